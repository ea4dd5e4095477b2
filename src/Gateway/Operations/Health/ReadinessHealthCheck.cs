using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Operations.Health;

/// <summary>
/// Readiness beyond worker progress: not draining, below the connection cap, rings not saturated
/// (unhealthy: the load balancer should send new clients elsewhere), and the dispatch engine reachable
/// (degraded only: the node keeps serving local traffic without its scale-out engine, §7).
/// </summary>
internal sealed class ReadinessHealthCheck : IHealthCheck
{
    private static readonly string[] PriorityNames = ["critical", "high", "normal", "low"];

    private readonly GatewayProbe _probe;
    private readonly OperationsOptions _options;

    public ReadinessHealthCheck(GatewayProbe probe, OperationsOptions options)
    {
        _probe = probe;
        _options = options;
    }

    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>();
        var problems = new List<string>();

        var draining = _probe.IsDraining;
        data["draining"] = draining;
        if (draining)
        {
            problems.Add("draining");
        }

        var connections = _probe.Connections;
        var limit = _probe.ConnectionLimit;
        data["connections"] = connections;
        data["connectionLimit"] = limit;
        if (connections >= limit)
        {
            problems.Add($"at the connection cap ({connections}/{limit})");
        }

        var dispatcher = _probe.Dispatcher;
        if (dispatcher is null)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("The dispatcher is not registered.", data: data));
        }

        var stats = dispatcher.GetStats();
        var capacity = _probe.RingCapacity(stats);
        var rings = new Dictionary<string, long>();
        for (var p = 0; p < stats.RingDepth.Count && p < PriorityNames.Length; p++)
        {
            rings[PriorityNames[p]] = stats.RingDepth[p];
            if (stats.RingDepth[p] >= _options.RingSaturation * capacity)
            {
                problems.Add($"{PriorityNames[p]} ring saturated ({stats.RingDepth[p]}/{capacity})");
            }
        }

        data["ringDepth"] = rings;
        data["ringCapacity"] = capacity;

        var engine = dispatcher.Engine;
        data["engine"] = engine.Name;
        data["engineAvailable"] = engine.IsAvailable;
        data["engineState"] = engine.State;

        if (problems.Count > 0)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("Not ready: " + string.Join("; ", problems) + ".", data: data));
        }

        return Task.FromResult(engine.IsAvailable
            ? HealthCheckResult.Healthy("Accepting connections.", data)
            : HealthCheckResult.Degraded($"Engine '{engine.Name}' {engine.State}: serving local traffic only.", data: data));
    }
}
