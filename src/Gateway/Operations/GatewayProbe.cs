using Gateway.Configuration;
using Gateway.Dispatch;
using Gateway.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Gateway.Operations;

/// <summary>
/// The one place where the operations code reads the host and the dispatch core: node id, connection
/// count and cap, drain state, ring depths and capacity, dispatcher counters and engine state.
/// Everything is resolved lazily, so health, stats and metrics work whatever order the host registers
/// its singletons in.
/// </summary>
internal sealed class GatewayProbe
{
    private readonly IServiceProvider _services;
    private readonly IConfiguration _configuration;
    private Dispatcher? _dispatcher;
    private GatewayMetrics? _hostMetrics;
    private GatewayLifetime? _lifetime;

    public GatewayProbe(IServiceProvider services, IConfiguration configuration)
    {
        _services = services;
        _configuration = configuration;
        ConfiguredNodeId = ResolveConfiguredNodeId(configuration);
    }

    /// <summary>The node id known before the dispatcher exists (config, or the dispatcher's default).</summary>
    public string ConfiguredNodeId { get; }

    /// <summary>The node id the dispatcher runs with.</summary>
    public string NodeId => Dispatcher?.NodeId ?? ConfiguredNodeId;

    /// <summary>The dispatcher, once the host has registered it.</summary>
    public Dispatcher? Dispatcher => _dispatcher ??= _services.GetService<Dispatcher>();

    /// <summary>The host's metrics, once registered.</summary>
    public GatewayMetrics? HostMetrics => _hostMetrics ??= _services.GetService<GatewayMetrics>();

    /// <summary>Open client connections (the host's count; the dispatcher's when the host has none).</summary>
    public long Connections => HostMetrics?.CurrentConnections ?? Dispatcher?.ConnectionCount ?? 0;

    /// <summary>The connection cap (<c>Gateway:Limits:MaxConnections</c>).</summary>
    public long ConnectionLimit => _services.GetService<IOptions<GatewayOptions>>()?.Value.Limits.MaxConnections
        ?? _configuration.GetValue("Gateway:Limits:MaxConnections", 19_000);

    /// <summary>True while the node drains (ready must be false).</summary>
    public bool IsDraining => (_lifetime ??= _services.GetService<GatewayLifetime>())?.IsDraining ?? false;

    /// <summary>Capacity of one priority's rings summed over the workers.</summary>
    public long RingCapacity(DispatcherStats stats)
    {
        var perWorker = _services.GetService<IOptions<DispatcherOptions>>()?.Value.RingCapacity
            ?? _configuration.GetValue("Gateway:Dispatch:RingCapacity", 16384);
        return (long)perWorker * Math.Max(1, stats.Workers);
    }

    /// <summary>The node id from config (<c>Gateway:NodeId</c>), or the dispatcher's default (machine name + pid).</summary>
    public static string ResolveConfiguredNodeId(IConfiguration configuration)
    {
        var id = configuration["Gateway:NodeId"];
        if (string.IsNullOrWhiteSpace(id))
        {
            id = configuration["Gateway:Dispatch:NodeId"];
        }

        return string.IsNullOrWhiteSpace(id) ? new DispatcherOptions().NodeId : id;
    }
}
