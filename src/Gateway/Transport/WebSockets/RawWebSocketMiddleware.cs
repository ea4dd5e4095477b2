using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Gateway.Configuration;
using Gateway.Hosting;
using Gateway.Protocol;
using Gateway.Protocol.WebSockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gateway.Transport.WebSockets;

/// <summary>
/// Connection middleware on the HTTP listeners (<c>Gateway:WebSocket:Transport</c> = <c>raw</c>). It peeks at the first
/// request of each connection: a <c>GET /ws</c> with <c>Upgrade: websocket</c> is taken over (the head is parsed here,
/// at most <see cref="UpgradeRequest.MaxHeadBytes"/>), checked by <see cref="WebSocketAdmission"/> like the ASP.NET
/// path, answered with 101 and served by a <see cref="RawWebSocketConnection"/> on the transport's own pipes, so no
/// HTTP/1 connection object is ever created for it. Every other connection goes to the HTTP pipeline with the peeked
/// bytes unconsumed.
/// </summary>
internal sealed class RawWebSocketMiddleware
{
    private readonly ConnectionDelegate _next;
    private readonly IServiceProvider _services;
    private readonly TimeSpan _headTimeout;
    private State? _state;

    public RawWebSocketMiddleware(ConnectionDelegate next, IServiceProvider services, TimeSpan headTimeout)
    {
        _next = next;
        _services = services;
        _headTimeout = headTimeout;
    }

    /// <summary>Serves one connection.</summary>
    public async Task OnConnectedAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        ReadResult result;
        SequencePosition? end = null;
        using (var deadline = new CancellationTokenSource(_headTimeout))
        {
            try
            {
                while (true)
                {
                    result = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
                    var buffer = result.Buffer;
                    var isWebSocketPath = UpgradeRequest.IsWebSocketPath(buffer);
                    if (isWebSocketPath == false)
                    {
                        break;
                    }

                    if (isWebSocketPath == true)
                    {
                        end = UpgradeRequest.FindEnd(buffer.Length > UpgradeRequest.MaxHeadBytes ? buffer.Slice(0, UpgradeRequest.MaxHeadBytes) : buffer);
                        if (end is not null || buffer.Length >= UpgradeRequest.MaxHeadBytes)
                        {
                            break;
                        }
                    }

                    if (result.IsCompleted)
                    {
                        break;
                    }

                    // Nothing decided yet: keep it all, wait for more.
                    input.AdvanceTo(buffer.Start, buffer.End);
                }
            }
            catch (OperationCanceledException)
            {
                // The first request's head did not arrive in time (Kestrel's RequestHeadersTimeout): like HTTP, close.
                return;
            }
        }

        var peeked = result.Buffer;
        if (UpgradeRequest.IsWebSocketPath(peeked) != true)
        {
            // Not ours: leave every byte unconsumed AND unexamined, so the HTTP parser sees them at once.
            input.AdvanceTo(peeked.Start);
            await _next(connection).ConfigureAwait(false);
            return;
        }

        var state = _state ??= new State(_services);
        var remote = (connection.RemoteEndPoint as IPEndPoint)?.Address;
        if (end is null)
        {
            // Read the length BEFORE advancing: the pipe recycles the segments behind peeked at AdvanceTo.
            var tooLong = peeked.Length >= UpgradeRequest.MaxHeadBytes;
            input.AdvanceTo(peeked.End);
            if (tooLong)
            {
                await RefuseAsync(connection, state, remote, new WebSocketRefusal(StatusCodes.Status431RequestHeaderFieldsTooLarge, "request_head_too_large", $"The upgrade request's head exceeds {UpgradeRequest.MaxHeadBytes} bytes.")).ConfigureAwait(false);
            }

            return; // the peer closed before the head was complete
        }

        var request = UpgradeRequest.Parse(peeked.Slice(0, end.Value));
        if (request is null)
        {
            input.AdvanceTo(end.Value);
            await RefuseAsync(connection, state, remote, new WebSocketRefusal(StatusCodes.Status400BadRequest, "bad_request", "The upgrade request is not a well-formed HTTP/1.1 request head.")).ConfigureAwait(false);
            return;
        }

        if (!request.WantsWebSocket)
        {
            // A plain request for /ws: the HTTP endpoint answers it (400 not_websocket), exactly as before.
            input.AdvanceTo(peeked.Start);
            await _next(connection).ConfigureAwait(false);
            return;
        }

        input.AdvanceTo(end.Value);
        var address = state.Forwarded.Resolve(remote, request.ForwardedFor);
        var refusal = state.Admission.Admit(request.IsValidWebSocketRequest, request.Origin, request.Protocols, address);
        if (refusal is not null)
        {
            await WriteRefusalAsync(connection.Transport.Output, refusal).ConfigureAwait(false);
            return;
        }

        var services = state.Admission.Services;
        try
        {
            TcpConnection.ApplySendBuffer(TcpConnection.SocketOf(connection), services.Options.Connection.SendBufferBytes);
            await WriteSwitchingProtocolsAsync(connection.Transport.Output, request.Key).ConfigureAwait(false);
            await new RawWebSocketConnection(services, connection, address, state.Options.MaxMessageBytes).RunAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or OperationCanceledException or InvalidOperationException)
        {
            // The client went away during the upgrade.
        }
        finally
        {
            services.Limiter.Release(address);
        }
    }

    private static async Task RefuseAsync(ConnectionContext connection, State state, IPAddress? address, WebSocketRefusal refusal)
    {
        // Refusals before the request is understood (no admission check ran): counted and logged like the others.
        state.Admission.Services.Metrics.ConnectionRefused(refusal.Error);
        GatewayLog.UpgradeRefused(state.Logger, refusal.Status, address, refusal.Text);
        await WriteRefusalAsync(connection.Transport.Output, refusal).ConfigureAwait(false);

        // The rest of a head that was too long (or bad) is still unread: closing now would make the kernel answer with
        // RST, which can destroy the answer before the client reads it. Read and discard briefly, bounded.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        long discarded = 0;
        try
        {
            while (discarded < 64 * 1024)
            {
                var result = await connection.Transport.Input.ReadAsync(deadline.Token).ConfigureAwait(false);
                discarded += result.Buffer.Length;
                connection.Transport.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ConnectionResetException or ConnectionAbortedException)
        {
        }
    }

    private static async Task WriteRefusalAsync(PipeWriter output, WebSocketRefusal refusal)
    {
        var body = Encoding.UTF8.GetBytes(refusal.Body);
        var head = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {refusal.Status} {ReasonPhrases.GetReasonPhrase(refusal.Status)}\r\n")
            .Append(CultureInfo.InvariantCulture, $"Content-Type: {WebSocketRefusal.ContentType}\r\n")
            .Append(CultureInfo.InvariantCulture, $"Content-Length: {body.Length}\r\n")
            .Append(CultureInfo.InvariantCulture, $"Date: {DateTimeOffset.UtcNow:R}\r\n")
            .Append(CultureInfo.InvariantCulture, $"{WebSocketRefusal.ErrorHeader}: {refusal.Error}\r\n");
        if (refusal.RetryAfterSeconds > 0)
        {
            head.Append(CultureInfo.InvariantCulture, $"Retry-After: {refusal.RetryAfterSeconds}\r\n");
        }

        // The connection ends with the answer: a refused upgrade has nothing more to say.
        head.Append("Connection: close\r\n\r\n");
        try
        {
            output.Write(Encoding.ASCII.GetBytes(head.ToString()));
            output.Write(body);
            await output.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ConnectionResetException or ConnectionAbortedException or InvalidOperationException)
        {
        }
    }

    private static async Task WriteSwitchingProtocolsAsync(PipeWriter output, string key)
    {
        var head = new StringBuilder()
            .Append("HTTP/1.1 101 Switching Protocols\r\n")
            .Append("Connection: Upgrade\r\n")
            .Append("Upgrade: websocket\r\n")
            .Append(CultureInfo.InvariantCulture, $"Sec-WebSocket-Accept: {WebSocketHandshake.ComputeAccept(key)}\r\n")
            // Our subprotocol only; no extension is ever accepted (no compression), whatever the client offered.
            .Append(CultureInfo.InvariantCulture, $"Sec-WebSocket-Protocol: {ProtocolVersion.WebSocketSubprotocol}\r\n")
            .Append("\r\n");
        output.Write(Encoding.ASCII.GetBytes(head.ToString()));
        var flush = await output.FlushAsync().ConfigureAwait(false);
        if (flush.IsCompleted || flush.IsCanceled)
        {
            throw new ConnectionAbortedException("The connection closed during the upgrade.");
        }
    }

    /// <summary>What the middleware needs from the container, resolved at the first upgrade (the container is built after the listeners).</summary>
    private sealed class State(IServiceProvider services)
    {
        public WebSocketAdmission Admission { get; } = services.GetRequiredService<WebSocketAdmission>();

        public WebSocketTransportOptions Options { get; } = services.GetRequiredService<IOptions<GatewayOptions>>().Value.WebSocket;

        public ForwardedFor Forwarded { get; } = new(services.GetRequiredService<IOptions<GatewayOptions>>().Value.Http.ForwardedHeaders);

        public ILogger Logger { get; } = services.GetRequiredService<ILogger<ConnectionServices>>();
    }
}
