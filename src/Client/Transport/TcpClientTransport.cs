using System.IO.Pipelines;
using System.Net.Sockets;
using Gateway.Protocol;
using Gateway.Protocol.Errors;

namespace Gateway.Client.Transport;

/// <summary>Raw TCP (<c>tcp://host:port</c>): the 6-byte hello, then frames back to back on the stream.</summary>
internal sealed class TcpClientTransport : IClientTransport
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    private TcpClientTransport(Uri endpoint, Socket socket, NetworkStream stream)
    {
        Endpoint = endpoint;
        _socket = socket;
        _stream = stream;
        Input = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4096, leaveOpen: true));
    }

    public PipeReader Input { get; }

    public Uri Endpoint { get; }

    public TransportClose? Close => null;

    /// <summary>Connects, sends the hello and checks the server's echo.</summary>
    public static async Task<TcpClientTransport> ConnectAsync(Uri endpoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint.Host, endpoint.Port, cancellationToken).ConfigureAwait(false);
            var stream = new NetworkStream(socket, ownsSocket: true);
            await stream.WriteAsync(ProtocolVersion.TcpHello.ToArray(), cancellationToken).ConfigureAwait(false);
            var echo = new byte[ProtocolVersion.TcpHelloSize];
            try
            {
                await stream.ReadExactlyAsync(echo, cancellationToken).ConfigureAwait(false);
            }
            catch (EndOfStreamException)
            {
                throw new GatewayConnectionException($"{endpoint} closed the connection during the TCP hello (protocol version refused?).");
            }

            var check = ProtocolVersion.ValidateTcpHello(echo);
            if (check != ErrorCode.None)
            {
                throw new GatewayException(check, 0, $"{endpoint} answered the TCP hello with {Convert.ToHexString(echo)}.");
            }

            return new TcpClientTransport(endpoint, socket, stream);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> frames, CancellationToken cancellationToken) =>
        await _stream.WriteAsync(frames, cancellationToken).ConfigureAwait(false);

    public Task CloseAsync(CancellationToken cancellationToken)
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }

        return Task.CompletedTask;
    }

    public void Abort()
    {
        try
        {
            // Linger 0 sends a reset: the server learns at once that this connection is gone.
            _socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }

        _socket.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await Input.CompleteAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }
}
