using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Gateway.Protocol.Buffers;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace Gateway.Transport;

/// <summary>
/// A native client on the raw TCP endpoint (after the hello). Input comes from Kestrel's transport pipe. Output goes
/// straight to the socket when Kestrel exposes it (its socket transport does): one send per drained batch, and,
/// above all, a real half-close at the end: Kestrel's output pipe can only close the whole socket, and closing with
/// unread input makes the kernel send RST, which can destroy the Error frame that explains the close. So a closing
/// connection sends its last frames, shuts down the send side (FIN), keeps reading and discarding input until the
/// peer closes or the bounded drain ends (<see cref="ClientConnection.CloseDrainTimeout"/>), and only then closes.
/// </summary>
internal sealed class TcpConnection : ClientConnection
{
    private readonly ConnectionContext _context;
    private readonly Socket? _socket;

    public TcpConnection(ConnectionServices services, ConnectionContext context, IPAddress? remoteAddress)
        : base(services, remoteAddress, "tcp")
    {
        _context = context;
        _socket = SocketOf(context);
        ApplySendBuffer(_socket, services.Options.Connection.SendBufferBytes);
    }

    private protected override bool HasCloseCodes => false;

    /// <summary>
    /// The connection's socket, or null when the transport does not expose one or TLS wraps it (writing to the socket
    /// would bypass the encryption): then output uses the pipe.
    /// </summary>
    internal static Socket? SocketOf(ConnectionContext context) => context.Features.Get<ITlsHandshakeFeature>() is null
        ? context.Features.Get<IConnectionSocketFeature>()?.Socket
        : null;

    /// <summary>
    /// Sets the socket's send buffer (<c>Gateway:Connection:SendBufferBytes</c>; 0 keeps the system default), so a busy
    /// connection's backlog waits in its outbound queue, where priorities apply, rather than in the kernel.
    /// </summary>
    internal static void ApplySendBuffer(Socket? socket, int bytes)
    {
        if (socket is null || bytes <= 0)
        {
            return;
        }

        try
        {
            socket.SendBufferSize = bytes;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed, or the platform refuses the size: the connection works with the default.
        }
    }

    /// <summary>Sends all of <paramref name="data"/> on the socket (a stream socket may accept it in parts).</summary>
    internal static async ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> data)
    {
        while (!data.IsEmpty)
        {
            var sent = await socket.SendAsync(data, SocketFlags.None).ConfigureAwait(false);
            data = data[sent..];
        }
    }

    private protected override async Task<CloseRequest> ReceiveLoopAsync()
    {
        var input = _context.Transport.Input;
        while (true)
        {
            // Kestrel's socket transport waits for data before renting a buffer: idle connections hold none.
            var result = await input.ReadAsync().ConfigureAwait(false);
            if (result.IsCanceled)
            {
                // A close was requested meanwhile (that request wins): discard input until the peer has read it.
                input.AdvanceTo(result.Buffer.End);
                return await DrainAsync(input, result.IsCompleted).ConfigureAwait(false);
            }

            if (!await ProcessInputAsync(input, result).ConfigureAwait(false))
            {
                return await DrainAsync(input, result.IsCompleted).ConfigureAwait(false);
            }

            if (result.IsCompleted)
            {
                // End of stream inside a frame is an abrupt reset, not a clean close.
                return Unconsumed > 0 ? CloseRequest.Reset with { Reason = "reset_mid_frame" } : CloseRequest.ClientClosed with { TransportFailed = false };
            }
        }
    }

    private protected override async ValueTask WriteAsync(List<FrameBuffer> frames, int totalBytes)
    {
        if (_socket is not null)
        {
            if (frames.Count == 1)
            {
                await SendAllAsync(_socket, frames[0].Memory).ConfigureAwait(false);
                return;
            }

            // Coalesce: every queued frame in one send = one syscall and one wake-up for the client.
            var array = ArrayPool<byte>.Shared.Rent(totalBytes);
            try
            {
                var offset = 0;
                foreach (var frame in frames)
                {
                    frame.Span.CopyTo(array.AsSpan(offset));
                    offset += frame.Length;
                }

                await SendAllAsync(_socket, array.AsMemory(0, offset)).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(array);
            }

            return;
        }

        var output = _context.Transport.Output;
        foreach (var frame in frames)
        {
            output.Write(frame.Span);
        }

        var flush = await output.FlushAsync().ConfigureAwait(false);
        if (flush.IsCompleted || flush.IsCanceled)
        {
            throw new ConnectionAbortedException("The connection was closed while writing.");
        }
    }

    private protected override async ValueTask CloseTransportAsync(CloseRequest request)
    {
        if (_socket is null)
        {
            // No socket to half-close: completing the pipe closes the connection (after what was written).
            await _context.Transport.Output.CompleteAsync().ConfigureAwait(false);
            return;
        }

        // Every frame was handed to the kernel by the awaited sends: the FIN follows them. The socket itself is
        // closed by Kestrel once the receive loop (draining) has ended and the handler returned.
        _socket.Shutdown(SocketShutdown.Send);
    }

    private protected override void OnCloseRequested() => _context.Transport.Input.CancelPendingRead();

    private protected override void Abort() => _context.Abort();

    /// <summary>Reads and discards input while closing, until the peer closes or too much arrived.</summary>
    private async Task<CloseRequest> DrainAsync(PipeReader input, bool completed)
    {
        while (!completed && !DrainExhausted)
        {
            var result = await input.ReadAsync().ConfigureAwait(false);
            Discard(result.Buffer.Length);
            input.AdvanceTo(result.Buffer.End);
            completed = result.IsCompleted;
        }

        return CloseRequest.ClientClosed;
    }
}
