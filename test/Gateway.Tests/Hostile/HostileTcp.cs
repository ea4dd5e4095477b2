using System.Buffers;
using System.Net.Sockets;
using Gateway.Protocol;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Hostile;

/// <summary>
/// A raw TCP protocol connection for hostile cases: hello (and Connect when given a token) done by hand, then the
/// test writes whatever bytes it likes on <see cref="Stream"/>; <see cref="ReadUntilEndAsync"/> decodes what the
/// node sends until it closes. Unlike <see cref="TestClient"/> nothing reads in the background, so a case can also
/// stop reading altogether.
/// </summary>
public sealed class HostileTcp : IDisposable
{
    private HostileTcp(TcpClient tcp)
    {
        Tcp = tcp;
        Stream = tcp.GetStream();
    }

    /// <summary>The client.</summary>
    public TcpClient Tcp { get; }

    /// <summary>Its stream.</summary>
    public NetworkStream Stream { get; }

    /// <summary>Connects, completes the hello and, with a token, Connect/Connected.</summary>
    public static async Task<HostileTcp> OpenAsync(GatewayServer server, string? token, int? receiveBufferSize = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        var tcp = new TcpClient { NoDelay = true };
        if (receiveBufferSize is { } size)
        {
            tcp.ReceiveBufferSize = size; // before connecting, so the advertised window stays small
        }

        await tcp.ConnectAsync(server.TcpEndPoint!);
        var client = new HostileTcp(tcp);
        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        await client.Stream.WriteAsync(ProtocolVersion.TcpHello.ToArray(), timeout.Token);
        var echo = new byte[ProtocolVersion.TcpHelloSize];
        await client.Stream.ReadExactlyAsync(echo, timeout.Token);
        if (token is not null)
        {
            var connect = new ArrayBufferWriter<byte>();
            FrameWriter.WriteConnect(connect, ProtocolVersion.Current, token, "hostile");
            await client.Stream.WriteAsync(connect.WrittenMemory, timeout.Token);
            var frame = await client.ReadFrameAsync(timeout.Token);
            Assert.True(frame?.Kind == FrameKind.Connected, $"expected Connected, got {frame}");
        }

        return client;
    }

    /// <summary>Every frame until the node closes (end of stream or reset).</summary>
    public async Task<List<ReceivedFrame>> ReadUntilEndAsync(TimeSpan? timeout = null)
    {
        var frames = new List<ReceivedFrame>();
        using var cts = new CancellationTokenSource(timeout ?? TestClient.DefaultTimeout);
        try
        {
            while (await ReadFrameAsync(cts.Token) is { } frame)
            {
                frames.Add(frame);
            }
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            // Reset after the node's last bytes: what was read stands.
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The node did not close within {(timeout ?? TestClient.DefaultTimeout).TotalSeconds} s; received: {string.Join(", ", frames)}");
        }

        return frames;
    }

    /// <summary>Ends the connection with an RST (SO_LINGER 0).</summary>
    public void Reset()
    {
        Tcp.Client.LingerState = new LingerOption(true, 0);
        Tcp.Dispose();
    }

    /// <inheritdoc />
    public void Dispose() => Tcp.Dispose();

    private async Task<ReceivedFrame?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        var header = new byte[ProtocolLimits.HeaderSize];
        try
        {
            await Stream.ReadExactlyAsync(header, cancellationToken);
        }
        catch (EndOfStreamException)
        {
            return null;
        }

        var length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header);
        Assert.True(length <= 16 * 1024 * 1024, $"frame of {length} bytes from the node");
        var whole = new byte[ProtocolLimits.HeaderSize + length];
        header.CopyTo(whole, 0);
        await Stream.ReadExactlyAsync(whole.AsMemory(ProtocolLimits.HeaderSize), cancellationToken);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(whole));
        Assert.True(FrameReader.TryRead(ref reader, new ProtocolLimits { MaxFrameLength = 16 * 1024 * 1024 }, out var frame));
        return ReceivedFrame.From(frame);
    }
}
