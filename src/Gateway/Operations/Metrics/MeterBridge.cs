using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Prometheus;

namespace Gateway.Operations.Metrics;

/// <summary>
/// Exports System.Diagnostics.Metrics instruments to a prometheus-net registry with Prometheus naming
/// (<c>_total</c>, <c>_seconds</c>, <c>_bytes</c>), real counter types and per-instrument histogram buckets,
/// and keeps the series readable for the stats collector.
/// </summary>
/// <remarks>
/// prometheus-net's own MeterAdapter exports counters as gauges, adds no unit or <c>_total</c> suffixes and
/// expires series that do not change for five minutes (which makes quiet counters such as auth failures
/// vanish), so the gateway uses this bridge instead. Only meters named in <see cref="MeterNames"/> are
/// exported, and meters created through another application's <see cref="IMeterFactory"/> (several
/// gateways in one test process) are ignored, so each node's registry shows its own figures only.
/// </remarks>
internal sealed class MeterBridge : IDisposable
{
    /// <summary>Meters exported by default.</summary>
    public static readonly IReadOnlyList<string> MeterNames =
    [
        "Gateway.Host",
        "Gateway.Dispatch",
        "System.Runtime",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Hosting",
    ];

    /// <summary>Buckets for latencies in seconds: 100 µs to 10 s, roughly 1-2.5-5 steps.</summary>
    public static readonly double[] LatencySecondsBuckets =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Buckets for connection lifetimes in seconds: 10 ms to 1 day.</summary>
    public static readonly double[] LifetimeSecondsBuckets =
        [0.01, 0.1, 1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400];

    /// <summary>Buckets for sizes in bytes: 64 B to 16 MiB, powers of four.</summary>
    public static readonly double[] SizeBytesBuckets =
        [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216];

    private readonly MeterListener _listener = new();
    private readonly IMetricFactory _factory;
    private readonly object? _scope;
    private readonly HashSet<string> _meterNames;
    private readonly ConcurrentDictionary<Instrument, BridgedInstrument> _instruments = new();
    private volatile bool _disposed;

    /// <summary>Starts listening.</summary>
    /// <param name="registry">The registry to export to (one per gateway instance).</param>
    /// <param name="scope">The application's <see cref="IMeterFactory"/>: scoped meters from other factories are ignored.</param>
    /// <param name="meterNames">Meter names to export.</param>
    public MeterBridge(CollectorRegistry registry, object? scope, IEnumerable<string> meterNames)
    {
        Registry = registry;
        _scope = scope;
        _meterNames = new HashSet<string>(meterNames, StringComparer.Ordinal);
        _factory = Prometheus.Metrics.WithCustomRegistry(registry);

        _listener.InstrumentPublished = OnInstrumentPublished;
        _listener.SetMeasurementEventCallback<byte>(OnMeasurement);
        _listener.SetMeasurementEventCallback<short>(OnMeasurement);
        _listener.SetMeasurementEventCallback<int>(OnMeasurement);
        _listener.SetMeasurementEventCallback<long>(OnMeasurement);
        _listener.SetMeasurementEventCallback<float>(OnMeasurement);
        _listener.SetMeasurementEventCallback<double>(OnMeasurement);
        _listener.SetMeasurementEventCallback<decimal>(OnMeasurement);
        _listener.Start();

        // Observable instruments report only when asked: ask right before every scrape.
        registry.AddBeforeCollectCallback(RecordObservables);
    }

    /// <summary>The registry the bridge exports to.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>The instruments bridged so far.</summary>
    public ICollection<BridgedInstrument> Instruments => _instruments.Values;

    /// <summary>Polls every observable instrument (gauges, observable counters) now.</summary>
    public void RecordObservables()
    {
        if (!_disposed)
        {
            _listener.RecordObservableInstruments();
        }
    }

    /// <summary>Picks the buckets for a histogram instrument from its unit and name.</summary>
    public static double[] BucketsFor(Instrument instrument)
    {
        var name = instrument.Name;
        var lifetime = name.EndsWith("connection.duration", StringComparison.Ordinal)
            || name.EndsWith("connection.lifetime", StringComparison.Ordinal)
            || name.EndsWith("session.duration", StringComparison.Ordinal);
        return instrument.Unit switch
        {
            "s" => lifetime ? LifetimeSecondsBuckets : LatencySecondsBuckets,
            "ms" => [.. (lifetime ? LifetimeSecondsBuckets : LatencySecondsBuckets).Select(b => b * 1000)],
            "us" => [.. LatencySecondsBuckets.Select(b => b * 1_000_000)],
            "By" => SizeBytesBuckets,
            _ => MeterAdapterOptions.DefaultHistogramBuckets,
        };
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _disposed = true;
        _listener.Dispose();
    }

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        if (!_meterNames.Contains(instrument.Meter.Name))
        {
            return;
        }

        if (instrument.Meter.Scope is not null && _scope is not null && !ReferenceEquals(instrument.Meter.Scope, _scope))
        {
            return;
        }

        var kind = Classify(instrument);
        if (kind is null)
        {
            return;
        }

        var bridged = _instruments.GetOrAdd(instrument, i => new BridgedInstrument(i, kind.Value, _factory, BucketsFor));
        listener.EnableMeasurementEvents(instrument, bridged);
    }

    private static InstrumentKind? Classify(Instrument instrument)
    {
        var type = instrument.GetType();
        if (!type.IsGenericType)
        {
            return null;
        }

        var definition = type.GetGenericTypeDefinition();
        if (definition == typeof(Counter<>))
        {
            return InstrumentKind.Counter;
        }

        if (definition == typeof(ObservableCounter<>))
        {
            // The runtime publishes these two current values as observable counters although they go down;
            // exported as counters they would stick at their maximum.
            return instrument.Meter.Name == "System.Runtime" && instrument.Name is "dotnet.thread_pool.thread.count" or "dotnet.thread_pool.queue.length"
                ? InstrumentKind.Gauge
                : InstrumentKind.ObservableCounter;
        }

        if (definition == typeof(UpDownCounter<>))
        {
            return InstrumentKind.UpDownCounter;
        }

        if (definition == typeof(Histogram<>))
        {
            return InstrumentKind.Histogram;
        }

        if (definition == typeof(ObservableGauge<>) || definition == typeof(ObservableUpDownCounter<>) || definition == typeof(Gauge<>))
        {
            return InstrumentKind.Gauge;
        }

        return null;
    }

    private static void OnMeasurement<T>(Instrument instrument, T measurement, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
        where T : struct
    {
        if (state is not BridgedInstrument bridged)
        {
            return;
        }

        try
        {
            bridged.Record(ToDouble(measurement), tags);
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or IndexOutOfRangeException)
        {
            // Never let a metrics problem escape into the code that recorded the measurement.
        }
    }

    private static double ToDouble<T>(T value)
        where T : struct => value switch
        {
            double d => d,
            long l => l,
            int i => i,
            float f => f,
            short s => s,
            byte b => b,
            decimal m => (double)m,
            _ => 0,
        };
}
