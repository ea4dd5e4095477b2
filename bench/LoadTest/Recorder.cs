using System.Diagnostics;
using Gateway.Protocol.Frames;
using HdrHistogram;
using LoadTest.Targets;

namespace LoadTest;

/// <summary>
/// Records end-to-end latency (receive time − scheduled send time carried in the payload) into
/// per-thread HdrHistograms (µs, 1 µs … 60 s, 3 significant digits), one per priority, for messages
/// scheduled inside the measurement window; counts arrivals inside the window for throughput.
/// </summary>
public sealed class Recorder : IDeliveryHandler
{
    public const long MaxMicros = 60_000_000;
    private static readonly double TicksToMicros = 1_000_000.0 / Stopwatch.Frequency;
    private readonly ThreadLocal<Local> _local = new(() => new Local(), trackAllValues: true);

    public long WindowStart = long.MaxValue;
    public long WindowEnd = long.MaxValue;

    /// <summary>Deliveries to excluded connections (e.g. slow ones) go here when set.</summary>
    public Func<BenchConnection, bool>? Exclude { get; set; }

    /// <summary>Deliveries of excluded connections are forwarded here.</summary>
    public IDeliveryHandler? ExcludedSink { get; set; }

    public void OnDelivery(BenchConnection connection, ReadOnlySpan<byte> payload, Priority priority, ulong offset, bool replayed, int topicHash)
    {
        if (Exclude != null && Exclude(connection))
        {
            ExcludedSink?.OnDelivery(connection, payload, priority, offset, replayed, topicHash);
            return;
        }

        var now = Stopwatch.GetTimestamp();
        var l = _local.Value!;
        if (now >= WindowStart && now < WindowEnd)
        {
            l.Arrivals++;
            l.ArrivalBytes += payload.Length;
        }

        if (replayed)
        {
            l.Replayed++;
            return;
        }

        var sent = BenchPayload.Ticks(payload);
        if (sent >= WindowStart && sent < WindowEnd)
        {
            var us = (long)((now - sent) * TicksToMicros);
            l.Hist[(int)priority & 3].RecordValue(Math.Clamp(us, 1, MaxMicros));
            l.WindowMessages++;
        }
    }

    public static LongHistogram NewHistogram() => new(MaxMicros, 3);

    /// <summary>Merged histogram of one priority, or all when null.</summary>
    public LongHistogram Histogram(Priority? priority = null)
    {
        var h = NewHistogram();
        foreach (var l in _local.Values)
        {
            for (var p = 0; p < 4; p++)
            {
                if (priority == null || (int)priority == p)
                {
                    h.Add(l.Hist[p]);
                }
            }
        }

        return h;
    }

    public long Arrivals => _local.Values.Sum(l => l.Arrivals);

    public long ArrivalBytes => _local.Values.Sum(l => l.ArrivalBytes);

    public long WindowMessages => _local.Values.Sum(l => l.WindowMessages);

    public long ReplayedCount => _local.Values.Sum(l => l.Replayed);

    private sealed class Local
    {
        public readonly LongHistogram[] Hist = [NewHistogram(), NewHistogram(), NewHistogram(), NewHistogram()];
        public long Arrivals;
        public long ArrivalBytes;
        public long WindowMessages;
        public long Replayed;
    }
}

/// <summary>Counts deliveries only (publisher echo, slow clients).</summary>
public sealed class CountingHandler : IDeliveryHandler
{
    public long Count;
    public Action? OnEach { get; set; }

    public void OnDelivery(BenchConnection connection, ReadOnlySpan<byte> payload, Priority priority, ulong offset, bool replayed, int topicHash)
    {
        Interlocked.Increment(ref Count);
        OnEach?.Invoke();
    }
}

/// <summary>Latency percentiles in milliseconds.</summary>
public sealed record LatencySummary(long Count, double P50, double P90, double P99, double P999, double Max, double Mean)
{
    public static LatencySummary From(LongHistogram h) => h.TotalCount == 0
        ? new LatencySummary(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN)
        : new LatencySummary(
            h.TotalCount,
            Ms(h.GetValueAtPercentile(50)),
            Ms(h.GetValueAtPercentile(90)),
            Ms(h.GetValueAtPercentile(99)),
            Ms(h.GetValueAtPercentile(99.9)),
            Ms(h.GetMaxValue()),
            Math.Round(h.GetMean() / 1000.0, 3));

    private static double Ms(long us) => Math.Round(us / 1000.0, 3);
}

/// <summary>Histogram as (value, count) pairs, to ship between processes and merge exactly.</summary>
public static class HistogramTransfer
{
    public static long[][] Export(LongHistogram h)
    {
        var list = new List<long[]>();
        foreach (var v in h.RecordedValues())
        {
            list.Add([v.ValueIteratedTo, v.CountAtValueIteratedTo]);
        }

        return [.. list];
    }

    /// <summary>
    /// The histogram as committed in a result file: values (µs) rounded to two significant digits and merged,
    /// a few hundred pairs instead of thousands (≤ 5 % error, for the percentile charts only: every figure in
    /// the result was computed from the full histogram). Shards still exchange <see cref="Export"/>.
    /// </summary>
    public static long[][] ExportCompact(LongHistogram h)
    {
        var merged = new SortedDictionary<long, long>();
        foreach (var v in h.RecordedValues())
        {
            var key = RoundTwoDigits(v.ValueIteratedTo);
            merged[key] = merged.GetValueOrDefault(key) + v.CountAtValueIteratedTo;
        }

        return [.. merged.Select(kv => new[] { kv.Key, kv.Value })];
    }

    private static long RoundTwoDigits(long value)
    {
        if (value < 100)
        {
            return value;
        }

        var step = (long)Math.Pow(10, Math.Floor(Math.Log10(value)) - 1);
        return (value + (step / 2)) / step * step;
    }

    public static void Import(LongHistogram into, long[][] pairs)
    {
        foreach (var p in pairs)
        {
            into.RecordValueWithCount(Math.Clamp(p[0], 1, Recorder.MaxMicros), p[1]);
        }
    }
}
