using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Gateway.Protocol;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Hostile;

/// <summary>
/// A WebSocket client written by hand over a <see cref="TcpClient"/> (RFC 6455): the HTTP upgrade, then masked
/// frames of any opcode, size and fragmentation, so tests can send what <see cref="ClientWebSocket"/> never would
/// (thousands of tiny continuation frames, a 10 MiB frame, bytes dribbled one at a time, an RST mid-frame).
/// Reads the server's frames: binary messages are decoded into protocol frames, a Close frame gives its status.
/// </summary>
public sealed class RawWebSocketClient : IAsyncDisposable
{
    /// <summary>Continuation opcode.</summary>
    public const byte Continuation = 0x0;

    /// <summary>Text opcode.</summary>
    public const byte Text = 0x1;

    /// <summary>Binary opcode.</summary>
    public const byte Binary = 0x2;

    /// <summary>Close opcode.</summary>
    public const byte Close = 0x8;

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly List<byte> _message = [];

    private RawWebSocketClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    /// <summary>The underlying socket (for LingerState / RST).</summary>
    public Socket Socket => _tcp.Client;

    /// <summary>The HTTP/1.1 upgrade request for <c>/ws</c> with subprotocol archmesh.v1, as bytes (optionally with an X-Padding header of that many bytes).</summary>
    public static byte[] UpgradeRequest(IPEndPoint server, int padding = 0) =>
        Encoding.ASCII.GetBytes(
            $"GET /ws HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            (padding > 0 ? $"X-Padding: {new string('a', padding)}\r\n" : "") +
            $"Sec-WebSocket-Key: {Convert.ToBase64String(RandomNumberGenerator.GetBytes(16))}\r\nSec-WebSocket-Version: 13\r\n" +
            $"Sec-WebSocket-Protocol: {ProtocolVersion.WebSocketSubprotocol}\r\n\r\n");

    /// <summary>The server's HTTP endpoint.</summary>
    public static IPEndPoint EndPointOf(GatewayServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        return new IPEndPoint(IPAddress.Parse(server.HttpAddress.Host), server.HttpAddress.Port);
    }

    /// <summary>Connects and completes the upgrade (asserts 101).</summary>
    public static async Task<RawWebSocketClient> OpenAsync(GatewayServer server, int? receiveBufferSize = null)
    {
        var tcp = new TcpClient { NoDelay = true };
        if (receiveBufferSize is { } size)
        {
            tcp.ReceiveBufferSize = size; // before connecting, so the advertised window is small too
        }

        var endPoint = EndPointOf(server);
        await tcp.ConnectAsync(endPoint);
        var client = new RawWebSocketClient(tcp);
        await client._stream.WriteAsync(UpgradeRequest(endPoint));
        var response = await ReadHttpHeadAsync(client._stream);
        Assert.True(response.StartsWith("HTTP/1.1 101", StringComparison.Ordinal), "upgrade refused: " + response);
        return client;
    }

    /// <summary>Opens, sends Connect and waits for Connected.</summary>
    public static async Task<RawWebSocketClient> ConnectAsync(GatewayServer server, string token, int? receiveBufferSize = null)
    {
        var client = await OpenAsync(server, receiveBufferSize);
        await client.SendMessageAsync(w => FrameWriter.WriteConnect(w, ProtocolVersion.Current, token, "hostile"));
        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        var frames = await client.ReadMessageAsync(timeout.Token);
        Assert.True(frames is { Count: > 0 } && frames[0].Kind == FrameKind.Connected, "expected Connected");
        return client;
    }

    /// <summary>Reads an HTTP response head (up to the blank line) byte by byte.</summary>
    public static async Task<string> ReadHttpHeadAsync(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var head = new List<byte>();
        var one = new byte[1];
        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        while (head.Count < 16 * 1024)
        {
            if (await stream.ReadAsync(one, timeout.Token) == 0)
            {
                break;
            }

            head.Add(one[0]);
            if (head.Count >= 4 && head[^1] == '\n' && head[^2] == '\r' && head[^3] == '\n' && head[^4] == '\r')
            {
                break;
            }
        }

        return Encoding.ASCII.GetString([.. head]);
    }

    /// <summary>Encodes one masked client frame (header + masked payload).</summary>
    public static byte[] EncodeFrame(byte opcode, ReadOnlySpan<byte> payload, bool fin = true)
    {
        var header = FrameHeader(opcode, payload.Length, fin, out var mask);
        var frame = new byte[header.Length + payload.Length];
        header.CopyTo(frame, 0);
        for (var i = 0; i < payload.Length; i++)
        {
            frame[header.Length + i] = (byte)(payload[i] ^ mask[i & 3]);
        }

        return frame;
    }

    /// <summary>Sends one frame.</summary>
    public async Task SendFrameAsync(byte opcode, ReadOnlyMemory<byte> payload, bool fin = true, CancellationToken cancellationToken = default) =>
        await _stream.WriteAsync(EncodeFrame(opcode, payload.Span, fin), cancellationToken);

    /// <summary>Sends one large frame, masking and writing its payload in 64 KiB pieces (no second copy of the payload).</summary>
    public async Task SendLargeFrameAsync(byte opcode, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        var header = FrameHeader(opcode, payload.Length, fin: true, out var mask);
        await _stream.WriteAsync(header, cancellationToken);
        var piece = new byte[64 * 1024];
        for (var offset = 0; offset < payload.Length; offset += piece.Length)
        {
            var count = Math.Min(piece.Length, payload.Length - offset);
            var source = payload.Span.Slice(offset, count);
            for (var i = 0; i < count; i++)
            {
                piece[i] = (byte)(source[i] ^ mask[(offset + i) & 3]);
            }

            await _stream.WriteAsync(piece.AsMemory(0, count), cancellationToken);
        }
    }

    /// <summary>Sends raw bytes as they are (pre-encoded frames, a dribble, garbage).</summary>
    public Task SendRawAsync(ReadOnlyMemory<byte> bytes) => _stream.WriteAsync(bytes).AsTask();

    /// <summary>Sends the protocol frames written by <paramref name="write"/> as one binary message in one frame.</summary>
    public Task SendMessageAsync(Action<IBufferWriter<byte>> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return SendFrameAsync(Binary, buffer.WrittenMemory);
    }

    /// <summary>
    /// The protocol frames of the next whole binary message; null when the server sent Close (see
    /// <see cref="CloseStatus"/>) or the connection ended.
    /// </summary>
    public async Task<List<ReceivedFrame>?> ReadMessageAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var frame = await ReadFrameAsync(cancellationToken);
            if (frame is null)
            {
                return null;
            }

            var (opcode, fin, payload) = frame.Value;
            if (opcode == Close)
            {
                CloseStatus = payload.Length >= 2 ? (WebSocketCloseStatus)BinaryPrimitives.ReadUInt16BigEndian(payload) : WebSocketCloseStatus.Empty;
                CloseReason = payload.Length > 2 ? Encoding.UTF8.GetString(payload, 2, payload.Length - 2) : "";
                return null;
            }

            if (opcode is 0x9 or 0xA)
            {
                continue; // WebSocket ping/pong: the gateway sends none (keep-alive off), but tolerate them
            }

            _message.AddRange(payload);
            if (!fin)
            {
                continue;
            }

            var frames = Decode([.. _message]);
            _message.Clear();
            return frames;
        }
    }

    /// <summary>The close status the server sent (null while none was received).</summary>
    public WebSocketCloseStatus? CloseStatus { get; private set; }

    /// <summary>The close reason the server sent.</summary>
    public string? CloseReason { get; private set; }

    /// <summary>Reads (answering protocol Pings) until the server closes; returns every protocol frame and the close status (null: no Close frame, the TCP connection just ended).</summary>
    public async Task<(List<ReceivedFrame> Frames, WebSocketCloseStatus? Status)> ReadUntilClosedAsync(TimeSpan? timeout = null)
    {
        var all = new List<ReceivedFrame>();
        using var cts = new CancellationTokenSource(timeout ?? TestClient.DefaultTimeout);
        try
        {
            while (await ReadMessageAsync(cts.Token) is { } frames)
            {
                all.AddRange(frames);
            }
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            // An RST after the close: what was read so far stands.
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The server did not close within {(timeout ?? TestClient.DefaultTimeout).TotalSeconds} s; received: {string.Join(", ", all)}");
        }

        return (all, CloseStatus);
    }

    /// <summary>Ends the connection with an RST (SO_LINGER 0), as a crashed client or a dropped link would.</summary>
    public void Reset()
    {
        _tcp.Client.LingerState = new LingerOption(true, 0);
        _tcp.Dispose();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }

    private static byte[] FrameHeader(byte opcode, int length, bool fin, out byte[] mask)
    {
        mask = RandomNumberGenerator.GetBytes(4);
        var lengthBytes = length < 126 ? 0 : length <= ushort.MaxValue ? 2 : 8;
        var header = new byte[2 + lengthBytes + 4];
        header[0] = (byte)((fin ? 0x80 : 0) | opcode);
        if (lengthBytes == 0)
        {
            header[1] = (byte)(0x80 | length);
        }
        else if (lengthBytes == 2)
        {
            header[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), (ushort)length);
        }
        else
        {
            header[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(2), (ulong)length);
        }

        mask.CopyTo(header, 2 + lengthBytes);
        return header;
    }

    private async Task<(byte Opcode, bool Fin, byte[] Payload)?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        var head = new byte[2];
        if (!await ReadExactlyOrEndAsync(head, cancellationToken))
        {
            return null;
        }

        long length = head[1] & 0x7F;
        if (length == 126)
        {
            var ext = new byte[2];
            await _stream.ReadExactlyAsync(ext, cancellationToken);
            length = BinaryPrimitives.ReadUInt16BigEndian(ext);
        }
        else if (length == 127)
        {
            var ext = new byte[8];
            await _stream.ReadExactlyAsync(ext, cancellationToken);
            length = (long)BinaryPrimitives.ReadUInt64BigEndian(ext);
        }

        Assert.True((head[1] & 0x80) == 0, "server frames must not be masked");
        Assert.True(length <= 64 * 1024 * 1024, $"server frame of {length} bytes");
        var payload = new byte[length];
        await _stream.ReadExactlyAsync(payload, cancellationToken);
        return ((byte)(head[0] & 0x0F), (head[0] & 0x80) != 0, payload);
    }

    private async Task<bool> ReadExactlyOrEndAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await _stream.ReadAsync(buffer.AsMemory(read), cancellationToken);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return true;
    }

    private static List<ReceivedFrame> Decode(byte[] message)
    {
        var frames = new List<ReceivedFrame>();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(message));
        var limits = new ProtocolLimits { MaxFrameLength = 16 * 1024 * 1024 };
        while (!reader.End)
        {
            Assert.True(FrameReader.TryRead(ref reader, limits, out var frame), "a server message ended inside a frame");
            frames.Add(ReceivedFrame.From(frame));
        }

        return frames;
    }
}
