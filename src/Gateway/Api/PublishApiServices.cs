using Gateway.Configuration;
using Gateway.Dispatch;
using Gateway.Hosting;
using Gateway.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gateway.Api;

/// <summary>What the HTTP API handlers need, resolved once.</summary>
public sealed class PublishApiServices(
    Dispatcher dispatcher,
    ApiRefusalLog refusals,
    IdempotencyCache idempotency,
    GatewayLifetime lifetime,
    ConnectionRegistry registry,
    IOptions<GatewayOptions> options,
    ILogger<PublishApiServices> logger)
{
    internal Dispatcher Dispatcher { get; } = dispatcher;

    internal ApiRefusalLog Refusals { get; } = refusals;

    internal IdempotencyCache Idempotency { get; } = idempotency;

    internal GatewayLifetime Lifetime { get; } = lifetime;

    internal ConnectionRegistry Registry { get; } = registry;

    internal GatewayOptions Options { get; } = options.Value;

    internal ProtocolLimits Limits { get; } = new() { MaxFrameLength = options.Value.Limits.MaxFrameLength };

    internal ILogger Logger { get; } = logger;
}
