using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Gateway.Transport.WebSockets;

/// <summary>Adds the raw WebSocket transport to an HTTP listener.</summary>
internal static class RawWebSocketListenOptionsExtensions
{
    /// <summary>
    /// Puts <see cref="RawWebSocketMiddleware"/> in front of the listener's HTTP pipeline (after TLS, when the listener
    /// uses HTTPS, so that it reads plaintext).
    /// </summary>
    public static ListenOptions UseRawWebSockets(this ListenOptions listen, TimeSpan headTimeout)
    {
        listen.Use(next => new RawWebSocketMiddleware(next, listen.ApplicationServices, headTimeout).OnConnectedAsync);
        return listen;
    }
}
