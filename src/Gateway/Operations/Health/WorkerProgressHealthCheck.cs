using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Operations.Health;

/// <summary>
/// Liveness: the dispatcher exists and its workers make progress. Idle workers are fine; workers that
/// hold queued messages without dispatching any for <see cref="OperationsOptions.StallTimeout"/> are not
/// (a wedged or dead worker thread), and a restart is the remedy.
/// </summary>
internal sealed class WorkerProgressHealthCheck : IHealthCheck
{
    private readonly GatewayProbe _probe;
    private readonly OperationsOptions _options;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private long _lastProgress = -1;
    private DateTimeOffset _lastProgressAt;

    public WorkerProgressHealthCheck(GatewayProbe probe, OperationsOptions options, TimeProvider time)
    {
        _probe = probe;
        _options = options;
        _time = time;
        _lastProgressAt = time.GetUtcNow();
    }

    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var dispatcher = _probe.Dispatcher;
        if (dispatcher is null)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("The dispatcher is not registered."));
        }

        var stats = dispatcher.GetStats();
        long queued = stats.ControlDepth;
        foreach (var depth in stats.RingDepth)
        {
            queued += depth;
        }

        long progress = stats.Deliveries;
        foreach (var n in stats.Dispatched)
        {
            progress += n;
        }

        foreach (var n in stats.WakeupsByWorker)
        {
            progress += n;
        }

        var now = _time.GetUtcNow();
        TimeSpan stalledFor;
        lock (_lock)
        {
            if (progress != _lastProgress || queued == 0)
            {
                _lastProgress = progress;
                _lastProgressAt = now;
            }

            stalledFor = now - _lastProgressAt;
        }

        var data = new Dictionary<string, object>
        {
            ["workers"] = stats.Workers,
            ["queued"] = queued,
            ["workerFaults"] = stats.WorkerFaults,
            ["secondsWithoutProgress"] = Math.Round(stalledFor.TotalSeconds, 1),
        };

        if (stats.Workers == 0)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("The dispatcher has no worker threads.", data: data));
        }

        return Task.FromResult(stalledFor > _options.StallTimeout
            ? HealthCheckResult.Unhealthy($"{queued} queued items and no dispatch progress for {stalledFor.TotalSeconds:0} s.", data: data)
            : HealthCheckResult.Healthy($"{stats.Workers} workers making progress.", data));
    }
}
