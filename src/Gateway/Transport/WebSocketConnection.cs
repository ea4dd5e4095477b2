using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.IO.Pipelines;
using System.Net;
using System.Net.WebSockets;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Errors;

namespace Gateway.Transport;

/// <summary>
/// A client on <c>/ws</c>. Receive: a zero-byte <c>ReceiveAsync</c> parks an idle connection
/// without any buffer; once data arrives it is read into a <see cref="Pipe"/> and parsed in place.
/// A frame must not span two WebSocket messages; text messages close with 1003. Send: everything
/// drained from the outbound queue goes out as ONE binary message.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "_abort is disposed in OnClosed, the last step of RunAsync, which owns the connection's lifetime.")]
internal sealed class WebSocketConnection : ClientConnection
{
    private const int ReceiveChunk = 16 * 1024;

    private static readonly PipeOptions InputOptions = new(
        pauseWriterThreshold: 0, // the same loop writes and parses, so a pause could never be released
        minimumSegmentSize: ReceiveChunk,
        useSynchronizationContext: false);

    private readonly WebSocket _socket;
    private readonly Pipe _input = new(InputOptions);
    private readonly CancellationTokenSource _abort = new();

    public WebSocketConnection(ConnectionServices services, WebSocket socket, IPAddress? remoteAddress)
        : base(services, remoteAddress, "websocket")
    {
        _socket = socket;
    }

    private protected override async Task<CloseRequest> ReceiveLoopAsync()
    {
        var token = _abort.Token;
        while (true)
        {
            // Zero-byte read: wait for the next message without holding a buffer.
            var result = await _socket.ReceiveAsync(Memory<byte>.Empty, token).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return CloseRequest.ClientClosed;
            }

            // While closing, a text message is just more input to discard (ending here would close with unread input).
            if (result.MessageType == WebSocketMessageType.Text && !IsClosing)
            {
                return CloseRequest.Fatal(ErrorCode.TextNotSupported, "Text WebSocket messages are not part of the protocol; send binary frames.");
            }

            while (!result.EndOfMessage)
            {
                var memory = _input.Writer.GetMemory(ReceiveChunk);
                result = await _socket.ReceiveAsync(memory, token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return CloseRequest.ClientClosed;
                }

                _input.Writer.Advance(result.Count);
                await _input.Writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
                if (_input.Reader.TryRead(out var read))
                {
                    await ProcessInputAsync(_input.Reader, read).ConfigureAwait(false);
                }

                if (DrainExhausted)
                {
                    return CloseRequest.ClientClosed; // a closing peer that keeps flooding: stop reading it
                }
            }

            if (Unconsumed > 0 && !IsClosing)
            {
                return CloseRequest.Fatal(ErrorCode.MalformedFrame, "A frame must not span two WebSocket messages (the message ended inside a frame).");
            }
        }
    }

    private protected override async ValueTask WriteAsync(List<FrameBuffer> frames, int totalBytes)
    {
        if (frames.Count == 1)
        {
            await _socket.SendAsync(frames[0].Memory, WebSocketMessageType.Binary, endOfMessage: true, _abort.Token).ConfigureAwait(false);
            return;
        }

        // Coalesce: every queued frame in one message = one write and one wake-up for the client.
        var array = ArrayPool<byte>.Shared.Rent(totalBytes);
        try
        {
            var offset = 0;
            foreach (var frame in frames)
            {
                frame.Span.CopyTo(array.AsSpan(offset));
                offset += frame.Length;
            }

            await _socket.SendAsync(array.AsMemory(0, offset), WebSocketMessageType.Binary, endOfMessage: true, _abort.Token).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(array);
        }
    }

    private protected override async ValueTask CloseTransportAsync(CloseRequest request)
    {
        if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            await _socket.CloseOutputAsync((WebSocketCloseStatus)request.CloseCode, request.Reason, _abort.Token).ConfigureAwait(false);
        }
    }

    private protected override void Abort()
    {
        try
        {
            _abort.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        _socket.Abort();
    }

    private protected override void OnClosed()
    {
        _input.Reader.Complete();
        _input.Writer.Complete();
        _abort.Dispose();
    }
}
