using System.Globalization;
using System.Net.WebSockets;
using Gateway.Protocol;
using Gateway.Transport.WebSockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Transport;

/// <summary>
/// <c>/ws</c> on ASP.NET Core's WebSocket middleware (<c>Gateway:WebSocket:Transport</c> = <c>aspnet</c>; with
/// <c>raw</c> it still answers requests the raw transport leaves to HTTP: non-upgrades and upgrades that are not the
/// first request of a connection). Every refusal happens BEFORE the upgrade (<see cref="WebSocketAdmission"/>), as a
/// plain HTTP answer with a readable body and the error name in <c>X-ArchMesh-Error</c>.
/// </summary>
public static class WebSocketEndpoint
{
    /// <summary>The path of the WebSocket endpoint.</summary>
    public const string Path = "/ws";

    /// <summary>Handles one request to <c>/ws</c>.</summary>
    public static async Task HandleAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var admission = context.RequestServices.GetRequiredService<WebSocketAdmission>();
        var services = admission.Services;
        var address = context.Connection.RemoteIpAddress;
        var refusal = admission.Admit(
            context.WebSockets.IsWebSocketRequest,
            context.Request.Headers.Origin.ToString(),
            context.WebSockets.IsWebSocketRequest ? context.WebSockets.WebSocketRequestedProtocols : [],
            address);
        if (refusal is not null)
        {
            await RefuseAsync(context, refusal).ConfigureAwait(false);
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

    private static async Task RefuseAsync(HttpContext context, WebSocketRefusal refusal)
    {
        context.Response.StatusCode = refusal.Status;
        context.Response.ContentType = WebSocketRefusal.ContentType;
        context.Response.Headers[WebSocketRefusal.ErrorHeader] = refusal.Error;
        if (refusal.RetryAfterSeconds > 0)
        {
            context.Response.Headers.RetryAfter = refusal.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        }

        await context.Response.WriteAsync(refusal.Body).ConfigureAwait(false);
    }
}
