using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Client.Transport;

/// <summary>
/// Raw TCP (<c>tcp://host:port</c>), or raw TCP inside TLS (<c>tcps://host:port</c>, an <see cref="SslStream"/> that
/// validates the server's certificate against the system's trust store and the host name unless
/// <see cref="GatewayClientOptions.ConfigureTls"/> says otherwise): the 6-byte hello, then frames back to back on the stream.
/// </summary>
internal sealed class TcpClientTransport : IClientTransport
{
    /// <summary>Largest Error frame body read when the server answers the hello with an Error instead of the echo.</summary>
    private const int MaxRefusalBody = 8 + ProtocolLimits.MaxTextBytes;

    private readonly Socket _socket;
    private readonly Stream _stream;

    private TcpClientTransport(Uri endpoint, Socket socket, Stream stream)
    {
        Endpoint = endpoint;
        _socket = socket;
        _stream = stream;
        Input = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, minimumReadSize: 4096, leaveOpen: true));
    }

    public PipeReader Input { get; }

    public Uri Endpoint { get; }

    public TransportClose? Close => null;

    /// <summary>Connects (and, for <c>tcps</c>, completes the TLS handshake), sends the hello and checks the server's echo.</summary>
    public static async Task<TcpClientTransport> ConnectAsync(Uri endpoint, Action<SslClientAuthenticationOptions>? configureTls, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        try
        {
            await socket.ConnectAsync(endpoint.Host, endpoint.Port, cancellationToken).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: true);
            if (endpoint.Scheme == "tcps")
            {
                stream = await AuthenticateAsync(endpoint, stream, configureTls, cancellationToken).ConfigureAwait(false);
            }

            await stream.WriteAsync(ProtocolVersion.TcpHello.ToArray(), cancellationToken).ConfigureAwait(false);
            var echo = new byte[ProtocolVersion.TcpHelloSize];
            try
            {
                await stream.ReadExactlyAsync(echo, cancellationToken).ConfigureAwait(false);
            }
            catch (EndOfStreamException)
            {
                throw new GatewayConnectionException($"{endpoint} closed the connection during the TCP hello (protocol version refused, or a TLS port reached with tcp://?).");
            }

            var check = ProtocolVersion.ValidateTcpHello(echo);
            if (check != ErrorCode.None)
            {
                // A refusal (draining, connection limit, TLS required, version) is an Error frame instead of the echo.
                throw await ReadRefusalAsync(endpoint, stream, echo, cancellationToken).ConfigureAwait(false)
                    ?? new GatewayException(check, 0, $"{endpoint} answered the TCP hello with {Convert.ToHexString(echo)}.");
            }

            return new TcpClientTransport(endpoint, socket, stream);
        }
        catch
        {
            if (stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }

            socket.Dispose();
            throw;
        }
    }

    private static async Task<Stream> AuthenticateAsync(Uri endpoint, Stream network, Action<SslClientAuthenticationOptions>? configureTls, CancellationToken cancellationToken)
    {
        var ssl = new SslStream(network, leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions { TargetHost = endpoint.IdnHost };
        configureTls?.Invoke(options);
        try
        {
            await ssl.AuthenticateAsClientAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw new GatewayConnectionException($"The TLS handshake with {endpoint} failed: {e.Message}", e);
        }

        return ssl;
    }

    /// <summary>Reads the Error frame whose header <paramref name="header"/> is; null when it is not one.</summary>
    private static async Task<GatewayException?> ReadRefusalAsync(Uri endpoint, Stream stream, byte[] header, CancellationToken cancellationToken)
    {
        var length = BinaryPrimitives.ReadUInt32BigEndian(header);
        if ((FrameKind)header[4] != FrameKind.Error || length > MaxRefusalBody)
        {
            return null;
        }

        var frame = new byte[ProtocolLimits.HeaderSize + (int)length];
        header.CopyTo(frame, 0);
        try
        {
            await stream.ReadExactlyAsync(frame.AsMemory(ProtocolLimits.HeaderSize), cancellationToken).ConfigureAwait(false);
            if (FrameReader.TryRead(new ReadOnlySequence<byte>(frame), ProtocolLimits.Default, out var error, out _))
            {
                return new GatewayException(error.ErrorCode, 0, $"{endpoint} refused the connection: {error.Text}");
            }
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or ProtocolException)
        {
        }

        return null;
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
