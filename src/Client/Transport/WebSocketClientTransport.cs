using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Net.WebSockets;
using Gateway.Protocol;
using Gateway.Protocol.Errors;

namespace Gateway.Client.Transport;

/// <summary>
/// WebSocket (<c>ws://</c>, <c>wss://</c>) with the <c>archmesh.v1</c> subprotocol. A receive loop
/// copies binary messages into a pipe that the frame reader drains; a message may hold several frames.
/// </summary>
internal sealed class WebSocketClientTransport : IClientTransport
{
    private readonly ClientWebSocket _socket;
    private readonly Pipe _pipe;
    [SuppressMessage("Usage", "CA2213", Justification = "Left to the GC: a concurrent Abort may still cancel it after DisposeAsync, and it holds no timer.")]
    private readonly CancellationTokenSource _receiveCts = new();
    private readonly Task _receiveLoop;

    private WebSocketClientTransport(Uri endpoint, ClientWebSocket socket)
    {
        Endpoint = endpoint;
        _socket = socket;
        _pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, useSynchronizationContext: false));
        _receiveLoop = ReceiveLoopAsync();
    }

    public PipeReader Input => _pipe.Reader;

    public Uri Endpoint { get; }

    public TransportClose? Close { get; private set; }

    /// <summary>Opens the WebSocket and checks that the server selected <c>archmesh.v1</c>.</summary>
    public static async Task<WebSocketClientTransport> ConnectAsync(Uri endpoint, Action<ClientWebSocketOptions>? configure, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        try
        {
            socket.Options.AddSubProtocol(ProtocolVersion.WebSocketSubprotocol);

            // Liveness is the protocol's own Ping/Pong (heartbeat from Connected), not WebSocket pings.
            socket.Options.KeepAliveInterval = TimeSpan.Zero;
            socket.Options.CollectHttpResponseDetails = true;
            configure?.Invoke(socket.Options);
            try
            {
                await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
            }
            catch (WebSocketException ex) when (socket.HttpStatusCode != 0 && socket.HttpStatusCode != System.Net.HttpStatusCode.SwitchingProtocols)
            {
                throw new GatewayConnectionException($"{endpoint} refused the WebSocket upgrade with HTTP {(int)socket.HttpStatusCode}.", ex);
            }

            if (socket.SubProtocol != ProtocolVersion.WebSocketSubprotocol)
            {
                throw new GatewayException(ErrorCode.UnsupportedVersion, 0, $"{endpoint} did not select the {ProtocolVersion.WebSocketSubprotocol} subprotocol.");
            }

            return new WebSocketClientTransport(endpoint, socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> frames, CancellationToken cancellationToken) =>
        await _socket.SendAsync(frames, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken).ConfigureAwait(false);

    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "client closing", cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // Best effort: the connection is being torn down anyway.
        }
    }

    public void Abort()
    {
        try
        {
            _receiveCts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Disposed meanwhile: nothing left to cancel.
        }

        _socket.Abort();
    }

    public async ValueTask DisposeAsync()
    {
        Abort();
        try
        {
            await _receiveLoop.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The loop reports its errors through the pipe.
        }

        await _pipe.Reader.CompleteAsync().ConfigureAwait(false);

        // _receiveCts is left to the GC: a concurrent Abort may still cancel it, and it holds no timer.
        _socket.Dispose();
    }

    private async Task ReceiveLoopAsync()
    {
        await Task.Yield();
        var writer = _pipe.Writer;
        Exception? error = null;
        try
        {
            while (true)
            {
                var memory = writer.GetMemory(8192);
                var result = await _socket.ReceiveAsync(memory, _receiveCts.Token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    var status = (int?)_socket.CloseStatus ?? 0;
                    Close = new TransportClose(status, TransportClose.CodeFor(status), _socket.CloseStatusDescription);

                    // Answer the close handshake so the server's close completes cleanly.
                    await CloseAsync(CancellationToken.None).ConfigureAwait(false);
                    break;
                }

                if (result.MessageType == WebSocketMessageType.Text)
                {
                    error = new ProtocolException(ErrorCode.TextNotSupported, "The server sent a text WebSocket message.");
                    break;
                }

                writer.Advance(result.Count);
                if (result.EndOfMessage)
                {
                    var flush = await writer.FlushAsync(_receiveCts.Token).ConfigureAwait(false);
                    if (flush.IsCompleted)
                    {
                        break;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Aborted locally: the reader sees the pipe complete.
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException)
        {
            error = new GatewayConnectionException($"The WebSocket to {Endpoint} failed: {ex.Message}", ex);
        }

        await writer.CompleteAsync(error).ConfigureAwait(false);
    }
}
