using System.Buffers;
using System.Net;
using Gateway.Protocol.Buffers;
using Microsoft.AspNetCore.Connections;

namespace Gateway.Transport;

/// <summary>
/// A native client on the raw TCP endpoint (after the hello): frames straight on Kestrel's
/// transport pipes. Every drained frame is written to the pipe, then ONE flush sends them together.
/// </summary>
internal sealed class TcpConnection : ClientConnection
{
    private readonly ConnectionContext _context;

    public TcpConnection(ConnectionServices services, ConnectionContext context, IPAddress? remoteAddress)
        : base(services, remoteAddress, "tcp")
    {
        _context = context;
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
                return CloseRequest.ClientClosed; // a close was requested meanwhile; that request wins
            }

            if (!await ProcessInputAsync(input, result).ConfigureAwait(false))
            {
                return CloseRequest.ClientClosed;
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

    private protected override async ValueTask CloseTransportAsync(CloseRequest request) =>
        await _context.Transport.Output.CompleteAsync().ConfigureAwait(false);

    private protected override void OnCloseRequested() => _context.Transport.Input.CancelPendingRead();

    private protected override void Abort() => _context.Abort();
}
