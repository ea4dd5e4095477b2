using Gateway.Configuration;
using Gateway.Dispatch;
using Gateway.Dispatch.Engines.Redis;
using Microsoft.Extensions.Options;

namespace Gateway.Hosting;

/// <summary>Builds the engine named by <c>Gateway:Engine:Kind</c> (validated at start).</summary>
internal static class DispatchEngineFactory
{
    /// <summary>Creates the engine; the Redis engine connects here and a failed first connect refuses the start.</summary>
    /// <param name="engine">The validated engine settings.</param>
    /// <param name="dispatch">The dispatch settings (history, pending, node id).</param>
    /// <param name="loggerFactory">Logs of the engine.</param>
    /// <param name="time">Clock.</param>
    /// <param name="inKubernetes">
    /// True when the process runs in a Kubernetes pod (<c>KUBERNETES_SERVICE_HOST</c> is set). A pod cannot read its
    /// Deployment's replica count without API access, so with the in-memory engine this only warns.
    /// </param>
    public static IDispatchEngine Create(EngineOptions engine, DispatcherOptions dispatch, ILoggerFactory loggerFactory, TimeProvider time, bool inKubernetes = false)
    {
        if (engine.Kind != "redis")
        {
            if (inKubernetes)
            {
                GatewayLog.InMemoryEngineInKubernetes(loggerFactory.CreateLogger(typeof(DispatchEngineFactory)), engine.Replicas);
            }

            return new InMemoryDispatchEngine(dispatch.History, dispatch.MaxPendingPerUser, dispatch.PendingTtl, time);
        }

        var options = new RedisStoreOptions
        {
            Configuration = engine.Redis.Configuration!,
            KeyPrefix = engine.Redis.KeyPrefix,
            // Unique per process even when several nodes share a configured node id (tests, copied configs):
            // a node recognises its own messages on the live feed by it.
            NodeId = $"{dispatch.NodeId}/{Guid.NewGuid():N}"[..Math.Min(255, dispatch.NodeId.Length + 33)],
            History = dispatch.History,
            MaxPendingPerUser = dispatch.MaxPendingPerUser,
            PendingTtl = dispatch.PendingTtl,
            OperationTimeout = engine.Redis.OperationTimeout,
            TimeProvider = time,
        };
        options.Validate();
        try
        {
            // The first connection must succeed (server features decide the channel kind): a node that cannot reach
            // Redis at start refuses to start, naming the setting; later outages leave it up and degraded.
            return RedisDispatchEngine.ConnectAsync(options, loggerFactory).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is RedisStoreUnavailableException or NotSupportedException)
        {
            throw new OptionsValidationException(
                "Gateway:Engine:Redis:Configuration",
                typeof(EngineOptions),
                [$"Gateway:Engine:Redis:Configuration ('{RedactPassword(engine.Redis.Configuration!)}'): {ex.Message}"]);
        }
    }

    private static string RedactPassword(string configuration) =>
        System.Text.RegularExpressions.Regex.Replace(configuration, "(password|user)=[^,]*", "$1=*****", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
}
