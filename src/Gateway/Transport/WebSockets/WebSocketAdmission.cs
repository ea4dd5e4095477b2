using System.Net;
using Gateway.Auth;
using Gateway.Hosting;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Gateway.Transport.WebSockets;

/// <summary>
/// The checks every upgrade to <c>/ws</c> passes before the 101, in this order, shared by both transports (ASP.NET
/// Core's and the raw one) so that they refuse alike: not a WebSocket request or wrong/missing subprotocol (400),
/// origin not allowed (403), draining (503), node full (503) or address full (429). A request that passes holds a
/// connection slot that the caller releases with <see cref="ConnectionLimiter.Release"/> when the connection ends.
/// </summary>
internal sealed class WebSocketAdmission(ConnectionServices services, GatewayLifetime lifetime, OriginPolicy origins, ILogger<ConnectionServices> logger)
{
    /// <summary>The services of the connections admitted.</summary>
    public ConnectionServices Services => services;

    /// <summary>
    /// Runs the checks; on success (null) a connection slot for <paramref name="address"/> is taken. A refusal is
    /// already counted and logged; the caller only writes it.
    /// </summary>
    /// <param name="isWebSocketRequest">Whether the request is a valid RFC 6455 upgrade (method, headers, version, key).</param>
    /// <param name="origin">The <c>Origin</c> header ("" when absent).</param>
    /// <param name="requestedProtocols">The subprotocols offered in <c>Sec-WebSocket-Protocol</c>.</param>
    /// <param name="address">The client address (after forwarded headers from trusted proxies).</param>
    public WebSocketRefusal? Admit(bool isWebSocketRequest, string origin, IList<string> requestedProtocols, IPAddress? address)
    {
        var refusal = Check(isWebSocketRequest, origin, requestedProtocols, address);
        if (refusal is not null)
        {
            services.Metrics.ConnectionRefused(refusal.Error);
            GatewayLog.UpgradeRefused(logger, refusal.Status, address, refusal.Text);
        }

        return refusal;
    }

    private WebSocketRefusal? Check(bool isWebSocketRequest, string origin, IList<string> requestedProtocols, IPAddress? address)
    {
        if (!isWebSocketRequest)
        {
            return new(StatusCodes.Status400BadRequest, "not_websocket", $"This endpoint only accepts WebSocket upgrades with subprotocol {ProtocolVersion.WebSocketSubprotocol}.");
        }

        if (!origins.IsAllowed(origin))
        {
            return new(StatusCodes.Status403Forbidden, "origin_not_allowed", $"Origin '{origin}' is not allowed (Gateway:Auth:AllowedOrigins).");
        }

        if (!requestedProtocols.Contains(ProtocolVersion.WebSocketSubprotocol, StringComparer.Ordinal))
        {
            var offered = requestedProtocols.Count == 0 ? "none" : string.Join(", ", requestedProtocols);
            return new(StatusCodes.Status400BadRequest, ErrorCatalog.Get(ErrorCode.UnsupportedVersion).Name, $"Unsupported or missing protocol version: request the WebSocket subprotocol '{ProtocolVersion.WebSocketSubprotocol}' (offered: {offered}).");
        }

        if (lifetime.IsDraining)
        {
            return new(StatusCodes.Status503ServiceUnavailable, ErrorCatalog.Get(ErrorCode.ServerShuttingDown).Name, "The node is draining; connect to another node.", RetryAfterSeconds: 1);
        }

        if (services.Limiter.TryAcquire(address, out var perAddress) != ErrorCode.None)
        {
            return new(
                perAddress ? StatusCodes.Status429TooManyRequests : StatusCodes.Status503ServiceUnavailable,
                ErrorCatalog.Get(ErrorCode.TooManyConnections).Name,
                perAddress ? "Too many connections from this address (Gateway:Limits:MaxConnectionsPerIp)." : "This node is at its connection limit (Gateway:Limits:MaxConnections); connect to another node.",
                RetryAfterSeconds: 5);
        }

        return null;
    }
}
