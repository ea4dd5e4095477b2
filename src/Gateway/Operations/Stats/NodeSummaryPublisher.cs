using Gateway.Dispatch.Engines.Redis;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Gateway.Operations.Stats;

/// <summary>
/// On the Redis engine, publishes this node's summary into the cluster view at start and every
/// <see cref="OperationsOptions.ClusterInterval"/> (through the drain too, so other nodes see it draining), and
/// removes it on a clean stop. A node that cannot reach Redis cannot publish: the others show it stale once its
/// last summary expires. Failures are logged once per outage, never thrown.
/// </summary>
internal sealed partial class NodeSummaryPublisher(ClusterView cluster, OperationsOptions options, TimeProvider time, ILogger<NodeSummaryPublisher> logger) : BackgroundService
{
    private static readonly TimeSpan RemoveTimeout = TimeSpan.FromSeconds(2);
    private bool _failing;

    /// <inheritdoc />
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (!cluster.IsShared)
        {
            return;
        }

        try
        {
            await cluster.RemoveSelfAsync().WaitAsync(RemoveTimeout, time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisStoreUnavailableException or TimeoutException or OperationCanceledException)
        {
            // The entry expires by itself; the others show this node stale until then.
            LogRemoveFailed(logger, ex.Message);
        }
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The dispatcher (and so the engine) exists once the host has started.
        if (!cluster.IsShared)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.ClusterInterval, time);
        try
        {
            do
            {
                await PublishOnceAsync().ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    private async Task PublishOnceAsync()
    {
        try
        {
            await cluster.PublishSelfAsync().ConfigureAwait(false);
            if (_failing)
            {
                _failing = false;
                LogPublishRestored(logger);
            }
        }
        catch (RedisStoreUnavailableException ex)
        {
            if (!_failing)
            {
                _failing = true;
                LogPublishFailed(logger, ex.Message);
            }
        }
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "Cannot publish this node's summary into the cluster view (other nodes will show it stale): {Reason}")]
    private static partial void LogPublishFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Information, Message = "Publishing this node's summary into the cluster view again.")]
    private static partial void LogPublishRestored(ILogger logger);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Debug, Message = "Could not remove this node from the cluster view on stop (its entry expires by itself): {Reason}")]
    private static partial void LogRemoveFailed(ILogger logger, string reason);
}
