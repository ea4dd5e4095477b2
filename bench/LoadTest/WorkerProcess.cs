using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LoadTest.Targets;

namespace LoadTest;

/// <summary>Spec sent to a worker process on its first stdin line.</summary>
public sealed record WorkerSpec(RunOptions Options, int From, int To);

/// <summary>
/// A child LoadTest process holding subscribers [From, To) when one process may not open them all
/// (20,000 files per process). Line protocol: parent → spec JSON, "GO start end", "STOP";
/// worker → "READY {ConnectStats}", "RESULT {ShardResult}".
/// </summary>
public sealed class WorkerProcess
{
    private readonly Process _p;

    private WorkerProcess(Process p) => _p = p;

    public static WorkerProcess Start(RunOptions o, int from, int to)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            psi.ArgumentList.Add(typeof(WorkerProcess).Assembly.Location);
        }

        psi.ArgumentList.Add("worker");
        var p = Process.Start(psi)!;
        p.StandardInput.WriteLine(JsonSerializer.Serialize(new WorkerSpec(o, from, to), RunResult.Compact));
        p.StandardInput.Flush();
        return new WorkerProcess(p);
    }

    private async Task<string> ReadLineAsync(string prefix, CancellationToken ct)
    {
        while (true)
        {
            var line = await _p.StandardOutput.ReadLineAsync(ct).ConfigureAwait(false) ?? throw new IOException($"worker {_p.Id} exited before {prefix}");
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return line[prefix.Length..];
            }
        }
    }

    public async Task<ConnectStats> ReadyAsync(CancellationToken ct) =>
        JsonSerializer.Deserialize<ConnectStats>(await ReadLineAsync("READY ", ct).ConfigureAwait(false), RunResult.Json)!;

    public void Go(long windowStart, long windowEnd)
    {
        _p.StandardInput.WriteLine(FormattableString.Invariant($"GO {windowStart} {windowEnd}"));
        _p.StandardInput.Flush();
    }

    public async Task<ShardResult> StopAsync(CancellationToken ct)
    {
        _p.StandardInput.WriteLine("STOP");
        _p.StandardInput.Flush();
        var r = JsonSerializer.Deserialize<ShardResult>(await ReadLineAsync("RESULT ", ct).ConfigureAwait(false), RunResult.Json)!;
        await _p.WaitForExitAsync(ct).ConfigureAwait(false);
        return r;
    }

    /// <summary>The worker side.</summary>
    public static async Task<int> MainAsync()
    {
        var spec = JsonSerializer.Deserialize<WorkerSpec>(Console.ReadLine()!, RunResult.Json)!;
        var o = spec.Options;
        var ip = System.Net.IPAddress.Parse(o.Host);
        var settings = new TargetSettings(o.JwtSecret, o.JwtKid, "archmesh", "archmesh-gateway", o.ApiKey, o.PublishVia, null);
        var targets = Target.CreateAll(o.Target, ip, o.Port, o.Ports, settings);
        var recorder = new Recorder();
        var shard = new Shard(targets, o, recorder);
        var stats = await shard.ConnectAsync(spec.From, spec.To, null, CancellationToken.None).ConfigureAwait(false);
        Console.WriteLine("READY " + JsonSerializer.Serialize(stats, RunResult.Compact));
        ConnSnapshot? s0 = null, s1 = null;
        Task? snaps = null;
        while (Console.ReadLine() is { } line)
        {
            if (line.StartsWith("GO ", StringComparison.Ordinal))
            {
                var f = line.Split(' ');
                recorder.WindowStart = long.Parse(f[1], CultureInfo.InvariantCulture);
                recorder.WindowEnd = long.Parse(f[2], CultureInfo.InvariantCulture);
                snaps = Task.Run(async () =>
                {
                    await Wait(recorder.WindowStart).ConfigureAwait(false);
                    s0 = shard.Snapshot();
                    await Wait(recorder.WindowEnd).ConfigureAwait(false);
                    s1 = shard.Snapshot();
                });
            }
            else if (line == "STOP")
            {
                if (snaps != null)
                {
                    await snaps.ConfigureAwait(false);
                }

                var window = s0 != null && s1 != null ? s1.Minus(s0) : new ConnSnapshot(0, 0, 0, 0, 0);
                Console.WriteLine("RESULT " + JsonSerializer.Serialize(ShardResult.From(recorder, shard, window), RunResult.Compact));
                await shard.CloseAllAsync().ConfigureAwait(false);
                return 0;
            }
        }

        return 1;
    }

    private static async Task Wait(long ticks)
    {
        var ms = (ticks - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency;
        if (ms > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(ms)).ConfigureAwait(false);
        }
    }
}
