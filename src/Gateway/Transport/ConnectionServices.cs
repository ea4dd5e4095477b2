using Gateway.Auth;
using Gateway.Configuration;
using Gateway.Dispatch;
using Gateway.Hosting;
using Gateway.Protocol;
using Gateway.Protocol.Buffers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gateway.Transport;

/// <summary>Everything a client connection needs, resolved once and shared by all connections.</summary>
public sealed class ConnectionServices
{
    private static readonly string IdPrefix = Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.Next()))[..6];
    private long _sequence;

    /// <summary>Creates the bundle.</summary>
    public ConnectionServices(
        Dispatcher dispatcher,
        TokenAuthenticator tokens,
        IOptions<GatewayOptions> options,
        IOptions<DispatcherOptions> dispatcherOptions,
        GatewayMetrics metrics,
        ConnectionRegistry registry,
        ConnectionLimiter limiter,
        GatewayLifetime lifetime,
        ILoggerFactory loggerFactory,
        TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(dispatcherOptions);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        Dispatcher = dispatcher;
        Tokens = tokens;
        Options = options.Value;
        Metrics = metrics;
        Registry = registry;
        Limiter = limiter;
        Lifetime = lifetime;
        Time = time;
        NodeId = dispatcherOptions.Value.NodeId;
        Logger = loggerFactory.CreateLogger("Gateway.Connection");
        Limits = new ProtocolLimits { MaxFrameLength = Options.Limits.MaxFrameLength };
    }

    internal Dispatcher Dispatcher { get; }

    internal FrameBufferPool Pool => Dispatcher.Pool;

    internal TokenAuthenticator Tokens { get; }

    internal GatewayOptions Options { get; }

    internal GatewayMetrics Metrics { get; }

    internal ConnectionRegistry Registry { get; }

    internal ConnectionLimiter Limiter { get; }

    internal GatewayLifetime Lifetime { get; }

    internal TimeProvider Time { get; }

    internal ILogger Logger { get; }

    internal ProtocolLimits Limits { get; }

    /// <summary>This node's id.</summary>
    public string NodeId { get; }

    internal (long Sequence, string Id) NextId()
    {
        var sequence = Interlocked.Increment(ref _sequence);
        return (sequence, string.Concat(IdPrefix, "-", sequence.ToString("x", System.Globalization.CultureInfo.InvariantCulture)));
    }
}
