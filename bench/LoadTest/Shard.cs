using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using LoadTest.Targets;

namespace LoadTest;

/// <summary>Counters of a set of connections at one instant.</summary>
public sealed record ConnSnapshot(long Reads, long BytesIn, long TransportMessages, long Deliveries, long Frames)
{
    public static ConnSnapshot Of(IEnumerable<BenchConnection> conns)
    {
        long r = 0, b = 0, t = 0, d = 0, f = 0;
        foreach (var c in conns)
        {
            r += Volatile.Read(ref c.Reads);
            b += Volatile.Read(ref c.BytesIn);
            t += Volatile.Read(ref c.TransportMessages);
            d += Volatile.Read(ref c.Deliveries);
            f += c is ArchMeshConnection a ? Volatile.Read(ref a.Frames) : Volatile.Read(ref c.TransportMessages);
        }

        return new ConnSnapshot(r, b, t, d, f);
    }

    public ConnSnapshot Minus(ConnSnapshot o) => new(Reads - o.Reads, BytesIn - o.BytesIn, TransportMessages - o.TransportMessages, Deliveries - o.Deliveries, Frames - o.Frames);

    public ConnSnapshot Plus(ConnSnapshot o) => new(Reads + o.Reads, BytesIn + o.BytesIn, TransportMessages + o.TransportMessages, Deliveries + o.Deliveries, Frames + o.Frames);
}

/// <summary>Result of connecting a set of clients.</summary>
public sealed class ConnectStats
{
    public int Requested { get; set; }
    public int Connected { get; set; }
    public int Failed { get; set; }
    public double Seconds { get; set; }
    public long[][] TimeHistogram { get; set; } = [];
    public List<string> Errors { get; set; } = [];

    public void Merge(ConnectStats o)
    {
        Requested += o.Requested;
        Connected += o.Connected;
        Failed += o.Failed;
        Seconds = Math.Max(Seconds, o.Seconds);
        var h = Recorder.NewHistogram();
        HistogramTransfer.Import(h, TimeHistogram);
        HistogramTransfer.Import(h, o.TimeHistogram);
        TimeHistogram = HistogramTransfer.Export(h);
        Errors.AddRange(o.Errors.Take(Math.Max(0, 10 - Errors.Count)));
    }
}

/// <summary>A set of subscriber connections held by this process (client i connects to node i % targets).</summary>
public sealed class Shard(Target[] targets, RunOptions o, IDeliveryHandler handler)
{
    public Shard(Target target, RunOptions o, IDeliveryHandler handler)
        : this([target], o, handler)
    {
    }

    public Target TargetOf(int i) => targets[i % targets.Length];

    private static readonly double TicksToMicros = 1_000_000.0 / Stopwatch.Frequency;
    public ConcurrentDictionary<int, BenchConnection> Connections { get; } = new();

    public static IPAddress Source(RunOptions o, int i) => o.Sources <= 0 ? IPAddress.Loopback : new IPAddress([127, 0, 0, (byte)(2 + (i % o.Sources))]);

    public static int[] GroupsOf(RunOptions o, int i) => o.Groups > 0 ? [i % o.Groups] : [];

    public ClientSpec Spec(int i) => new(i, GroupsOf(o, i), false, Source(o, i), handler, AutoAck: false, BufferSize: o.BufferSize);

    /// <summary>Connects clients <paramref name="from"/>..<paramref name="to"/> at the configured rate and concurrency.</summary>
    public async Task<ConnectStats> ConnectAsync(int from, int to, Func<int, ClientSpec>? specOf, CancellationToken ct)
    {
        var stats = new ConnectStats { Requested = to - from };
        var hist = Recorder.NewHistogram();
        var gate = new SemaphoreSlim(Math.Max(1, o.ConnectConcurrency));
        var sw = Stopwatch.StartNew();
        var tasks = new List<Task>(to - from);
        var errors = new ConcurrentQueue<string>();
        int ok = 0, failed = 0;
        for (var i = from; i < to; i++)
        {
            if (o.ConnectRate > 0)
            {
                var due = TimeSpan.FromSeconds((i - from) / o.ConnectRate);
                var wait = due - sw.Elapsed;
                if (wait > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(wait, ct).ConfigureAwait(false);
                }
            }

            await gate.WaitAsync(ct).ConfigureAwait(false);
            var index = i;
            tasks.Add(Task.Run(
                async () =>
                {
                    var start = Stopwatch.GetTimestamp();
                    try
                    {
                        var c = await TargetOf(index).ConnectAsync(specOf?.Invoke(index) ?? Spec(index), ct).ConfigureAwait(false);
                        lock (hist)
                        {
                            hist.RecordValue(Math.Clamp((long)((Stopwatch.GetTimestamp() - start) * TicksToMicros), 1, Recorder.MaxMicros));
                        }

                        Connections[index] = c;
                        Interlocked.Increment(ref ok);
                    }
                    catch (Exception e)
                    {
                        Interlocked.Increment(ref failed);
                        if (errors.Count < 10)
                        {
                            errors.Enqueue(e.GetType().Name + ": " + e.Message);
                        }
                    }
                    finally
                    {
                        gate.Release();
                    }
                },
                ct));
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
        stats.Connected = ok;
        stats.Failed = failed;
        stats.Seconds = Math.Round(sw.Elapsed.TotalSeconds, 3);
        stats.TimeHistogram = HistogramTransfer.Export(hist);
        stats.Errors = [.. errors];
        return stats;
    }

    public ConnSnapshot Snapshot() => ConnSnapshot.Of(Connections.Values);

    public async Task CloseAllAsync()
    {
        var all = Connections.Values.ToArray();
        Connections.Clear();
        foreach (var chunk in all.Chunk(256))
        {
            await Task.WhenAll(chunk.Select(c => c.CloseAsync().AsTask())).ConfigureAwait(false);
        }
    }
}
