using Gateway.Dispatch;
using Gateway.Operations.Metrics;
using HdrHistogram;
using Microsoft.Extensions.Hosting;

namespace Gateway.Operations.Stats;

/// <summary>
/// Samples the node's figures every <see cref="OperationsOptions.StatsSampleInterval"/> (the "current"
/// view of <c>/api/v1/stats</c>) and every <see cref="OperationsOptions.StatsInterval"/> appends a snapshot
/// over that interval to the bounded <see cref="StatsHistory"/>. Dispatch figures come from
/// <c>Dispatcher.GetStats()</c>, host figures and latency distributions from the metrics bridge
/// (HdrHistogram interval recorders), so nothing here touches the message path.
/// </summary>
internal sealed class StatsCollector : BackgroundService
{
    /// <summary>Exported name of the dispatch latency histogram (ring enqueue → offset assigned).</summary>
    public const string DispatchLatencyMetric = "gateway_dispatch_latency_seconds";

    /// <summary>Exported name of the end-to-end latency histogram (publish → socket write).</summary>
    public const string EndToEndLatencyMetric = "gateway_delivery_latency_seconds";

    // Cumulative counter slots.
    private const int Opened = 0;
    private const int Closed = 1;
    private const int FramesIn = 2;
    private const int FramesOut = 3;
    private const int BytesIn = 4;
    private const int BytesOut = 5;
    private const int AuthFailures = 6;
    private const int ProtocolErrors = 7;
    private const int SlowConsumer = 8;
    private const int Rejects = 9;
    private const int Deliveries = 10;
    private const int Published = 11;   // + priority (4 slots)
    private const int Dispatched = 15;  // + priority
    private const int Shed = 19;        // + priority
    private const int SlotCount = 23;

    private static readonly (string Metric, int Slot)[] HostCounters =
    [
        ("gateway_connections_opened_total", Opened),
        ("gateway_connections_closed_total", Closed),
        ("gateway_frames_in_total", FramesIn),
        ("gateway_frames_out_total", FramesOut),
        ("gateway_bytes_in_total", BytesIn),
        ("gateway_bytes_out_total", BytesOut),
        ("gateway_auth_failures_total", AuthFailures),
        ("gateway_protocol_errors_total", ProtocolErrors),
    ];

    private readonly GatewayProbe _probe;
    private readonly MeterBridge _bridge;
    private readonly OperationsOptions _options;
    private readonly TimeProvider _time;
    private readonly Dictionary<BridgedSeries, HistogramBase?> _recycled = [];
    private readonly HistogramBase _tickDispatch = NewHistogram();
    private readonly HistogramBase _tickEndToEnd = NewHistogram();
    private readonly HistogramBase _intervalDispatch = NewHistogram();
    private readonly HistogramBase _intervalEndToEnd = NewHistogram();
    private readonly Lock _sampleLock = new();
    private double[] _lastTick = new double[SlotCount];
    private double[] _intervalStart = new double[SlotCount];
    private DateTimeOffset _lastTickAt;
    private DateTimeOffset _intervalStartAt;
    private volatile StatsSnapshot? _current;

    public StatsCollector(GatewayProbe probe, MeterBridge bridge, OperationsOptions options, TimeProvider time)
    {
        _probe = probe;
        _bridge = bridge;
        _options = options;
        _time = time;
        History = new StatsHistory(options.HistoryCapacity);
        _lastTickAt = _intervalStartAt = time.GetUtcNow();
    }

    /// <summary>The kept snapshots.</summary>
    public StatsHistory History { get; }

    /// <summary>The latest sample (over the last sample interval), taking one now if none exists yet.</summary>
    public StatsSnapshot Current => _current ?? Sample();

    /// <summary>Takes a sample now; appends a history snapshot when an interval has elapsed.</summary>
    public StatsSnapshot Sample()
    {
        lock (_sampleLock)
        {
            var now = _time.GetUtcNow();
            var totals = ReadTotals(out var stats);
            DrainLatency();

            var current = Build(now, now - _lastTickAt, totals, _lastTick, stats, _tickDispatch, _tickEndToEnd);
            _current = current;
            _lastTick = totals;
            _lastTickAt = now;
            _tickDispatch.Reset();
            _tickEndToEnd.Reset();

            // Half a sample of slack so timer jitter does not push a snapshot to the next tick.
            if (now - _intervalStartAt >= _options.StatsInterval - _options.StatsSampleInterval / 2)
            {
                History.Add(Build(now, now - _intervalStartAt, totals, _intervalStart, stats, _intervalDispatch, _intervalEndToEnd));
                _intervalStart = totals;
                _intervalStartAt = now;
                _intervalDispatch.Reset();
                _intervalEndToEnd.Reset();
            }

            return current;
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.StatsSampleInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                Sample();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private static LongHistogram NewHistogram() => new(1, BridgedSeries.MaxRecordedMicros, 3);

    private static double Rate(double[] now, double[] before, int slot, double seconds) =>
        seconds <= 0 ? 0 : Math.Round(Math.Max(0, now[slot] - before[slot]) / seconds, 3);

    private static PriorityFigures Rates(double[] now, double[] before, int first, double seconds) =>
        new(Rate(now, before, first, seconds), Rate(now, before, first + 1, seconds), Rate(now, before, first + 2, seconds), Rate(now, before, first + 3, seconds));

    private double[] ReadTotals(out Gateway.Dispatch.DispatcherStats? stats)
    {
        var totals = new double[SlotCount];
        foreach (var instrument in _bridge.Instruments)
        {
            foreach (var (metric, slot) in HostCounters)
            {
                if (instrument.Name == metric)
                {
                    foreach (var series in instrument.Series)
                    {
                        totals[slot] += series.Value;
                    }
                }
            }
        }

        stats = _probe.Dispatcher?.GetStats();
        if (stats is not null)
        {
            totals[SlowConsumer] = stats.SlowConsumerCloses;
            totals[Rejects] = stats.RejectedOverloaded + stats.RejectedPayloadTooLarge + stats.RejectedInvalid
                + stats.RejectedShuttingDown + stats.RejectedEngineUnavailable;
            totals[Deliveries] = stats.Deliveries;
            for (var p = 0; p < 4; p++)
            {
                totals[Published + p] = p < stats.Enqueued.Count ? stats.Enqueued[p] : 0;
                totals[Dispatched + p] = p < stats.Dispatched.Count ? stats.Dispatched[p] : 0;
                totals[Shed + p] = p < stats.Shed.Count ? stats.Shed[p] : 0;
            }
        }

        return totals;
    }

    private void DrainLatency()
    {
        foreach (var instrument in _bridge.Instruments)
        {
            var (tick, interval) = instrument.Name switch
            {
                DispatchLatencyMetric => (_tickDispatch, _intervalDispatch),
                EndToEndLatencyMetric => (_tickEndToEnd, _intervalEndToEnd),
                _ => (null, null),
            };
            if (tick is null || interval is null)
            {
                continue;
            }

            foreach (var series in instrument.Series)
            {
                if (series.Recorder is null)
                {
                    continue;
                }

                // Recycle the previous interval histogram: the recorder swaps it in, so steady state allocates nothing.
                _recycled.TryGetValue(series, out var recycle);
                var h = recycle is null ? series.Recorder.GetIntervalHistogram() : series.Recorder.GetIntervalHistogram(recycle);
                _recycled[series] = h;
                tick.Add(h);
                interval.Add(h);
            }
        }
    }

    private StatsSnapshot Build(
        DateTimeOffset now,
        TimeSpan elapsed,
        double[] totals,
        double[] before,
        Gateway.Dispatch.DispatcherStats? stats,
        HistogramBase dispatchLatency,
        HistogramBase endToEndLatency)
    {
        var seconds = elapsed.TotalSeconds;
        var dispatcher = _probe.Dispatcher;
        return new StatsSnapshot
        {
            Timestamp = now,
            IntervalSeconds = Math.Round(seconds, 3),
            Node = _probe.NodeId,
            Draining = _probe.IsDraining,
            Connections = _probe.Connections,
            ConnectionLimit = _probe.ConnectionLimit,
            ConnectionsOpenedPerSecond = Rate(totals, before, Opened, seconds),
            ConnectionsClosedPerSecond = Rate(totals, before, Closed, seconds),
            Topics = stats?.Topics ?? 0,
            PublishedPerSecond = Rates(totals, before, Published, seconds),
            DeliveredPerSecond = Rates(totals, before, Dispatched, seconds),
            ShedPerSecond = Rates(totals, before, Shed, seconds),
            DeliveriesPerSecond = Rate(totals, before, Deliveries, seconds),
            FramesInPerSecond = Rate(totals, before, FramesIn, seconds),
            FramesOutPerSecond = Rate(totals, before, FramesOut, seconds),
            BytesInPerSecond = Rate(totals, before, BytesIn, seconds),
            BytesOutPerSecond = Rate(totals, before, BytesOut, seconds),
            RingDepth = stats is null ? PriorityFigures.Zero : PriorityFigures.From([.. stats.RingDepth.Select(d => (double)d)]),
            RingCapacity = stats is null ? 0 : _probe.RingCapacity(stats),
            DispatchLatency = LatencyFigures.From(dispatchLatency),
            EndToEndLatency = LatencyFigures.From(endToEndLatency),
            SlowConsumerClosesPerSecond = Rate(totals, before, SlowConsumer, seconds),
            SlowConsumerClosesTotal = (long)totals[SlowConsumer],
            AuthFailuresPerSecond = Rate(totals, before, AuthFailures, seconds),
            AuthFailuresTotal = (long)totals[AuthFailures],
            ProtocolErrorsPerSecond = Rate(totals, before, ProtocolErrors, seconds),
            PublishRejectsPerSecond = Rate(totals, before, Rejects, seconds),
            Engine = dispatcher?.Engine.Name ?? "",
            EngineAvailable = dispatcher?.Engine.IsAvailable ?? false,
            EngineState = dispatcher?.Engine.State ?? "",
            EngineCircuit = dispatcher?.Engine.Circuit switch { EngineCircuitState.Open => "open", EngineCircuitState.HalfOpen => "half-open", _ => "closed" },
        };
    }
}
