using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Gateway.Tests.Shared;

/// <summary>
/// A server the tests run as a real child process (redis-server, haproxy, a gateway executable): started in the
/// foreground with its output kept (the last lines, for failure messages), stopped by its PID with SIGKILL at
/// dispose, and also when the test host exits without disposing (aborted or timed-out run). Linked into every
/// test project that starts servers (test/Shared), so starting and stopping by PID is written once.
/// </summary>
public sealed class ServerProcess : IDisposable
{
    private const int KeptLines = 200;

    private readonly ConcurrentQueue<string> _output = new();
    private readonly string _name;
    private Process? _process;

    private ServerProcess(string name, Process process)
    {
        _name = name;
        _process = process;
    }

    /// <summary>The process id; throws once stopped.</summary>
    public int Pid => _process?.Id ?? throw new InvalidOperationException($"{_name} is not running.");

    /// <summary>True once the process has exited (or was stopped).</summary>
    public bool HasExited => _process?.HasExited ?? true;

    /// <summary>The last lines the process wrote (stdout and stderr interleaved).</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>
    /// Starts <paramref name="fileName"/>; when it is not installed, fails with <paramref name="installHint"/>
    /// (e.g. "install the Debian package haproxy (bash test/prereqs.sh)").
    /// </summary>
    public static ServerProcess Start(string fileName, IEnumerable<string> arguments, string installHint, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var process = StartProcess(fileName, arguments, installHint, environment, workingDirectory ?? AppContext.BaseDirectory);
        var server = new ServerProcess(Path.GetFileName(fileName), process);
        AppDomain.CurrentDomain.ProcessExit += server.OnProcessExit;

        // Drain both pipes so a chatty server never blocks on a full pipe; keep the tail for failure messages.
        process.OutputDataReceived += (_, e) => server.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => server.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return server;
    }

    /// <summary>
    /// Polls <paramref name="ready"/> (exceptions count as "not yet") until it returns true; if the process exits or
    /// <paramref name="timeout"/> passes first, stops it and throws with its output.
    /// </summary>
    public async Task WaitUntilReadyAsync(Func<Task<bool>> ready, TimeSpan timeout, string what)
    {
        ArgumentNullException.ThrowIfNull(ready);
        var watch = Stopwatch.StartNew();
        while (true)
        {
            if (HasExited || watch.Elapsed > timeout)
            {
                var output = Output;
                Kill();
                throw new InvalidOperationException($"{_name} did not become ready ({what}) within {timeout.TotalSeconds:0} s:\n{output}");
            }

            try
            {
                if (await ready())
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or SocketException or IOException)
            {
                // Not listening yet.
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Sends a signal (e.g. STOP to freeze the server, CONT to resume it).</summary>
    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {Pid} failed.");
        }
    }

    /// <summary>SIGKILL by PID and wait until it is gone: the kernel resets its sockets, nothing is flushed.</summary>
    public void Kill()
    {
        var process = Interlocked.Exchange(ref _process, null);
        if (process is null)
        {
            return;
        }

        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }

        process.WaitForExit(10_000);
        process.Dispose();
    }

    /// <inheritdoc />
    public void Dispose() => Kill();

    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago.</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Runs a program to completion (bounded by <paramref name="timeout"/>): exit code, stdout, stderr.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunToEndAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout, string installHint, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var process = StartProcess(fileName, arguments, installHint, environment, workingDirectory ?? TestRepository.Root);
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                await process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"{fileName} did not finish within {timeout.TotalSeconds:0} s.");
            }

            return (process.ExitCode, await stdout, await stderr);
        }
    }

    private static Process StartProcess(string fileName, IEnumerable<string> arguments, string installHint, IReadOnlyDictionary<string, string>? environment, string workingDirectory)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        try
        {
            return Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start.");
        }
        catch (Win32Exception ex)
        {
            throw new InvalidOperationException($"{fileName} is not installed: {installHint}.", ex);
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > KeptLines)
        {
            _output.TryDequeue(out _);
        }
    }

    private void OnProcessExit(object? sender, EventArgs e) => Kill();
}
