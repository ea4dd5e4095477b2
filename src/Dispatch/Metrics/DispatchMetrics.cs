using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Gateway.Dispatch;

/// <summary>
/// The <c>Gateway.Dispatch</c> meter. Counters and gauges are observable: they read the dispatcher's
/// own counters when a listener collects, so the hot path pays nothing extra whether or not anybody
/// listens. Only the latency histogram records on the hot path, and only while enabled.
/// </summary>
internal sealed class DispatchMetrics : IDisposable
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "Gateway.Dispatch";

    private static readonly KeyValuePair<string, object?>[] PriorityTags =
    [
        new("priority", "critical"),
        new("priority", "high"),
        new("priority", "normal"),
        new("priority", "low"),
    ];

    private readonly Meter _meter;
    private readonly Histogram<double> _latency;

    public DispatchMetrics(Dispatcher dispatcher, object? scope = null)
    {
        // Scoped to the host: an unscoped meter is seen by every host's exporter in the process (tests run several),
        // and its observable gauges would report whichever dispatcher was observed last.
        _meter = new Meter(new MeterOptions(MeterName) { Version = "1.0", Scope = scope });
        _meter.CreateObservableGauge("gateway.dispatch.ring.depth", () => PerPriority(dispatcher.RingDepths()), "{item}", "Items waiting in the priority rings.");
        _meter.CreateObservableGauge("gateway.dispatch.control.depth", () => dispatcher.ControlDepth(), "{item}", "Items waiting in control rings and broadcast lanes.");
        _meter.CreateObservableCounter("gateway.dispatch.messages.enqueued", () => PerPriority(dispatcher.EnqueuedCounts()), "{message}", "Messages accepted into the rings.");
        _meter.CreateObservableCounter("gateway.dispatch.messages.dispatched", () => PerPriority(dispatcher.DispatchedCounts()), "{message}", "Messages dispatched by workers.");
        _meter.CreateObservableCounter("gateway.dispatch.messages.shed", () => PerPriority(dispatcher.ShedCounts()), "{message}", "Messages shed by outbound queues.");
        _meter.CreateObservableCounter("gateway.dispatch.deliveries", () => dispatcher.TotalDeliveries(), "{message}", "Message frames queued to connections.");
        _meter.CreateObservableCounter("gateway.dispatch.slow_consumer.closes", () => Volatile.Read(ref dispatcher.Counters.SlowConsumerCloses), "{connection}", "Connections closed as slow consumers.");
        _meter.CreateObservableCounter("gateway.dispatch.publish.rejects", () => Rejects(dispatcher.Counters), "{publish}", "Publishes refused, by reason.");
        _meter.CreateObservableGauge("gateway.dispatch.engine.circuit", () => (int)dispatcher.Engine.Circuit, "{state}", "Engine circuit breaker: 0 closed, 1 open (calls fail fast), 2 half-open.");
        _meter.CreateObservableCounter("gateway.dispatch.replays.incomplete", () => Volatile.Read(ref dispatcher.Counters.ReplaysIncomplete), "{replay}", "Recoveries answered Recovered that could not be completed (recovery_incomplete).");
        _meter.CreateObservableCounter("gateway.dispatch.worker.faults", () => Volatile.Read(ref dispatcher.Counters.WorkerFaults), "{fault}", "Items whose handling threw.");
        _meter.CreateObservableUpDownCounter("gateway.dispatch.connections", () => (long)dispatcher.ConnectionCount, "{connection}", "Registered connections.");
        _meter.CreateObservableUpDownCounter("gateway.dispatch.topics", () => (long)dispatcher.TopicCount, "{topic}", "Known topics.");
        var budget = dispatcher.Budget;
        _meter.CreateObservableGauge("gateway.dispatch.budget.used", () => BudgetUse(budget), null, "Node memory budget in use, by budget (topics: count; history_bytes, retained_bytes, pending_bytes: encoded frame bytes).");
        _meter.CreateObservableGauge("gateway.dispatch.budget.limit", () => BudgetLimits(budget.Options), null, "Node memory budget limits (Gateway:Dispatch:Budget), by budget.");
        _meter.CreateObservableCounter("gateway.dispatch.budget.evictions", () => Evictions(budget), "{eviction}", "Idle state evicted over the node budget: kind=topic (whole topic: history and retained), kind=history (history only).");
        _meter.CreateObservableCounter("gateway.dispatch.budget.refusals", () => Refusals(budget), "{refusal}", "Requests refused as overloaded by the node budget, by reason (topics, retained, pending).");
        _meter.CreateObservableCounter("gateway.dispatch.idle_sweep.visits", () => dispatcher.SweepVisits, "{topic}", "Topics visited by the incremental idle-topic sweep.");
        _latency = _meter.CreateHistogram<double>("gateway.dispatch.latency", "s", "Time from ring enqueue to offset assignment.");
    }

    /// <summary>Records the time since <paramref name="enqueuedTimestamp"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public void RecordLatency(long enqueuedTimestamp)
    {
        if (_latency.Enabled)
        {
            _latency.Record(Stopwatch.GetElapsedTime(enqueuedTimestamp).TotalSeconds);
        }
    }

    /// <summary>This dispatcher's meter instance (several dispatchers may exist in one process, e.g. tests).</summary>
    public Meter Meter => _meter;

    public void Dispose() => _meter.Dispose();

    private static Measurement<long>[] PerPriority(long[] values) =>
    [
        new(values[0], PriorityTags[0]),
        new(values[1], PriorityTags[1]),
        new(values[2], PriorityTags[2]),
        new(values[3], PriorityTags[3]),
    ];

    private static Measurement<long>[] BudgetUse(NodeBudget b) =>
    [
        new(b.Topics, new KeyValuePair<string, object?>("budget", "topics")),
        new(b.HistoryBytes, new KeyValuePair<string, object?>("budget", "history_bytes")),
        new(b.RetainedBytes, new KeyValuePair<string, object?>("budget", "retained_bytes")),
        new(b.PendingBytes, new KeyValuePair<string, object?>("budget", "pending_bytes")),
    ];

    private static Measurement<long>[] BudgetLimits(TopicBudgetOptions o) =>
    [
        new(o.MaxTopics, new KeyValuePair<string, object?>("budget", "topics")),
        new(o.MaxHistoryBytes, new KeyValuePair<string, object?>("budget", "history_bytes")),
        new(o.MaxRetainedBytes, new KeyValuePair<string, object?>("budget", "retained_bytes")),
        new(o.MaxPendingBytes, new KeyValuePair<string, object?>("budget", "pending_bytes")),
    ];

    private static Measurement<long>[] Evictions(NodeBudget b) =>
    [
        new(b.TopicsEvicted, new KeyValuePair<string, object?>("kind", "topic")),
        new(b.HistoriesEvicted, new KeyValuePair<string, object?>("kind", "history")),
    ];

    private static Measurement<long>[] Refusals(NodeBudget b) =>
    [
        new(b.RefusedTopics, new KeyValuePair<string, object?>("reason", "topics")),
        new(b.RefusedRetained, new KeyValuePair<string, object?>("reason", "retained")),
        new(b.RefusedPending, new KeyValuePair<string, object?>("reason", "pending")),
    ];

    private static Measurement<long>[] Rejects(DispatchCounters c) =>
    [
        new(Volatile.Read(ref c.RejectedOverloaded), new KeyValuePair<string, object?>("reason", "overloaded")),
        new(Volatile.Read(ref c.RejectedPayloadTooLarge), new KeyValuePair<string, object?>("reason", "payload_too_large")),
        new(Volatile.Read(ref c.RejectedInvalidTopic), new KeyValuePair<string, object?>("reason", "invalid")),
        new(Volatile.Read(ref c.RejectedShuttingDown), new KeyValuePair<string, object?>("reason", "shutting_down")),
        new(Volatile.Read(ref c.RejectedEngineUnavailable), new KeyValuePair<string, object?>("reason", "engine_unavailable")),
    ];
}
