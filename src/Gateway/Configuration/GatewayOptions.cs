using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Gateway.Configuration;

/// <summary>
/// The <c>Gateway:</c> options tree (appsettings.json, environment <c>Gateway__X__Y</c>, command line
/// <c>--Gateway:X:Y=v</c>). Every key, its default and why is documented in docs/configuration.md.
/// </summary>
public sealed class GatewayOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Gateway";

    /// <summary>Node id reported in Connected frames, logs and metrics. Empty = machine name + process id.</summary>
    [MaxLength(64)]
    public string? NodeId { get; set; }

    /// <summary>The raw TCP endpoint.</summary>
    [ValidateObjectMembers]
    public TcpOptions Tcp { get; set; } = new();

    /// <summary>Authentication: signing keys, API keys, origins.</summary>
    [ValidateObjectMembers]
    public AuthOptions Auth { get; set; } = new();

    /// <summary>The WebSocket server transport of <c>/ws</c>.</summary>
    public WebSocketTransportOptions WebSocket { get; set; } = new();

    /// <summary>Per-node, per-address and per-connection limits.</summary>
    [ValidateObjectMembers]
    public LimitsOptions Limits { get; set; } = new();

    /// <summary>Connection lifecycle timers.</summary>
    public ConnectionOptions Connection { get; set; } = new();

    /// <summary>Graceful drain.</summary>
    public DrainOptions Drain { get; set; } = new();

    /// <summary>HTTP publish API.</summary>
    [ValidateObjectMembers]
    public HttpApiOptions Http { get; set; } = new();

    /// <summary>Where topic streams live: in memory (one node) or in Redis (scale-out).</summary>
    public EngineOptions Engine { get; set; } = new();
}
