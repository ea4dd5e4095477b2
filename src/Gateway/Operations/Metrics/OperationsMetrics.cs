using System.Diagnostics.Metrics;
using Gateway.Operations.Health;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Operations.Metrics;

/// <summary>
/// The <c>Gateway.Operations</c> meter: node-level state that neither the host nor the dispatch core
/// exports — readiness, drain state, connection cap, ring capacity and the engine's reachability — so
/// alerts can be written against them.
/// </summary>
internal sealed class OperationsMetrics
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "Gateway.Operations";

    private readonly GatewayProbe _probe;
    private readonly ReadinessHealthCheck _readiness;

    public OperationsMetrics(IMeterFactory meterFactory, GatewayProbe probe, ReadinessHealthCheck readiness)
    {
        _probe = probe;
        _readiness = readiness;
#pragma warning disable CA2000 // the meter belongs to the factory, which disposes it with the host
        var meter = meterFactory.Create(MeterName);
#pragma warning restore CA2000
        meter.CreateObservableGauge("gateway.ready", ReadyValue, null, "1 when /health/ready would answer 200 (healthy or degraded), else 0.");
        meter.CreateObservableGauge("gateway.draining", () => _probe.IsDraining ? 1 : 0, null, "1 while the node drains (graceful shutdown), else 0.");
        meter.CreateObservableGauge("gateway.connections.limit", () => _probe.ConnectionLimit, "{connection}", "The node's connection cap (Gateway:Limits:MaxConnections).");
        meter.CreateObservableGauge("gateway.dispatch.ring.capacity", RingCapacity, "{item}", "Capacity of one priority's rings, summed over workers.");
        meter.CreateObservableGauge("gateway.engine.available", EngineAvailable, null, "1 when the dispatch engine (in-memory or Redis) is reachable, else 0; label engine.");
    }

    private int ReadyValue()
    {
        var result = _readiness.CheckHealthAsync(new HealthCheckContext()).GetAwaiter().GetResult();
        return result.Status == HealthStatus.Unhealthy ? 0 : 1;
    }

    private long RingCapacity()
    {
        var stats = _probe.Dispatcher?.GetStats();
        return stats is null ? 0 : _probe.RingCapacity(stats);
    }

    private Measurement<int>[] EngineAvailable()
    {
        var engine = _probe.Dispatcher?.Engine;
        return engine is null
            ? []
            : [new Measurement<int>(engine.IsAvailable ? 1 : 0, new KeyValuePair<string, object?>("engine", engine.Name))];
    }
}
