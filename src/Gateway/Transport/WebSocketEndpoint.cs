using System.Globalization;
using System.Net.WebSockets;
using Gateway.Auth;
using Gateway.Hosting;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Transport;

/// <summary>
/// <c>/ws</c>: every refusal happens BEFORE the upgrade, as a plain HTTP answer with a readable
/// body and the error name in <c>X-ArchMesh-Error</c>: not a WebSocket request or wrong/missing
/// subprotocol (400), origin not allowed (403), draining or node full (503), address full (429).
/// </summary>
public static class WebSocketEndpoint
{
    /// <summary>The path of the WebSocket endpoint.</summary>
    public const string Path = "/ws";

    /// <summary>Handles one request to <c>/ws</c>.</summary>
    public static async Task HandleAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var services = context.RequestServices.GetRequiredService<ConnectionServices>();
        var lifetime = context.RequestServices.GetRequiredService<GatewayLifetime>();
        var origins = context.RequestServices.GetRequiredService<OriginPolicy>();
        var logger = context.RequestServices.GetRequiredService<ILogger<ConnectionServices>>();
        var address = context.Connection.RemoteIpAddress;

        if (!context.WebSockets.IsWebSocketRequest)
        {
            await RefuseAsync(context, services, logger, StatusCodes.Status400BadRequest, "not_websocket", $"This endpoint only accepts WebSocket upgrades with subprotocol {ProtocolVersion.WebSocketSubprotocol}.").ConfigureAwait(false);
            return;
        }

        var origin = context.Request.Headers.Origin.ToString();
        if (!origins.IsAllowed(origin))
        {
            await RefuseAsync(context, services, logger, StatusCodes.Status403Forbidden, "origin_not_allowed", $"Origin '{origin}' is not allowed (Gateway:Auth:AllowedOrigins).").ConfigureAwait(false);
            return;
        }

        var requested = context.WebSockets.WebSocketRequestedProtocols;
        if (!requested.Contains(ProtocolVersion.WebSocketSubprotocol, StringComparer.Ordinal))
        {
            var offered = requested.Count == 0 ? "none" : string.Join(", ", requested);
            await RefuseAsync(context, services, logger, StatusCodes.Status400BadRequest, ErrorCatalog.Get(ErrorCode.UnsupportedVersion).Name, $"Unsupported or missing protocol version: request the WebSocket subprotocol '{ProtocolVersion.WebSocketSubprotocol}' (offered: {offered}).").ConfigureAwait(false);
            return;
        }

        if (lifetime.IsDraining)
        {
            await RefuseAsync(context, services, logger, StatusCodes.Status503ServiceUnavailable, ErrorCatalog.Get(ErrorCode.ServerShuttingDown).Name, "The node is draining; connect to another node.", retryAfterSeconds: 1).ConfigureAwait(false);
            return;
        }

        if (services.Limiter.TryAcquire(address, out var perAddress) != ErrorCode.None)
        {
            await RefuseAsync(
                context,
                services,
                logger,
                perAddress ? StatusCodes.Status429TooManyRequests : StatusCodes.Status503ServiceUnavailable,
                ErrorCatalog.Get(ErrorCode.TooManyConnections).Name,
                perAddress ? "Too many connections from this address (Gateway:Limits:MaxConnectionsPerIp)." : "This node is at its connection limit (Gateway:Limits:MaxConnections); connect to another node.",
                retryAfterSeconds: 5).ConfigureAwait(false);
            return;
        }

        try
        {
            var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
            {
                SubProtocol = ProtocolVersion.WebSocketSubprotocol,
                // The protocol has its own heartbeats (with idle timeout); WebSocket pings would double the traffic.
                KeepAliveInterval = TimeSpan.Zero,
                DangerousEnableCompression = false,
            }).ConfigureAwait(false);
            // Kestrel exposes the connection's socket through the request's features (null on other servers).
            TcpConnection.ApplySendBuffer(context.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionSocketFeature>()?.Socket, services.Options.Connection.SendBufferBytes);
            using (socket)
            {
                await new WebSocketConnection(services, socket, address).RunAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or WebSocketException or OperationCanceledException)
        {
            // The client went away during the upgrade.
        }
        finally
        {
            services.Limiter.Release(address);
        }
    }

    private static async Task RefuseAsync(HttpContext context, ConnectionServices services, ILogger logger, int status, string error, string text, int retryAfterSeconds = 0)
    {
        services.Metrics.ConnectionRefused(error);
        GatewayLog.UpgradeRefused(logger, status, context.Connection.RemoteIpAddress, text);
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers["X-ArchMesh-Error"] = error;
        if (retryAfterSeconds > 0)
        {
            context.Response.Headers.RetryAfter = retryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        }

        await context.Response.WriteAsync(text + "\n").ConfigureAwait(false);
    }
}
