using System.Diagnostics;
using System.Text;

namespace Chaos;

/// <summary>Runs <c>deploy/local/cluster.sh</c> commands (kill, stop, start, freeze, ...) against the cluster's run directory, bounded in time.</summary>
public sealed class ClusterControl(string script, string clusterDir, TextWriter log)
{
    public async Task RunAsync(string arguments, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(script);
        foreach (var a in arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["ARCHMESH_CLUSTER_DIR"] = clusterDir;
        psi.Environment["BUILD"] = "0";
        var output = new StringBuilder();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        var started = Stopwatch.GetTimestamp();
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"cluster.sh {arguments} did not finish within {timeout.TotalSeconds:F0} s.");
        }

        string text;
        lock (output)
        {
            text = output.ToString();
        }

        lock (log)
        {
            log.WriteLine($"$ cluster.sh {arguments}   ({Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s, exit {process.ExitCode})");
            log.Write(text);
            log.Flush();
        }

        if (process.ExitCode != 0)
        {
            var tail = string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(3));
            throw new InvalidOperationException($"cluster.sh {arguments} exited {process.ExitCode}: {tail}");
        }
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }
}
