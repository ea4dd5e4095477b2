using System.Buffers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Gateway.Protocol;
using Gateway.Protocol.Frames;
using Gateway.Protocol.WebSockets;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.WebSockets;

/// <summary>
/// A WebSocket client that writes bytes by hand over a <see cref="TcpClient"/>: the handshake, then masked frames made
/// exactly as a test wants them (fragments, bad bits, splits at any byte), and reads the server's frames raw.
/// </summary>
internal sealed class RawBytesWebSocketClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly List<byte> _pending = [];
    private readonly Queue<ReceivedFrame> _decoded = new();
    private int _start;
    private int _end;

    private RawBytesWebSocketClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    /// <summary>The handshake answer's head (status line and headers).</summary>
    public string ResponseHead { get; private set; } = "";

    /// <summary>Connects and sends the upgrade request; returns the client with the response head read (101 or a refusal).</summary>
    public static async Task<RawBytesWebSocketClient> OpenAsync(GatewayServer server, string? extraHeaders = null, string key = "dGhlIHNhbXBsZSBub25jZQ==")
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(server.HttpAddress.Host, server.HttpAddress.Port);
        var client = new RawBytesWebSocketClient(tcp);
        var request = "GET /ws HTTP/1.1\r\n"
            + $"Host: {server.HttpAddress.Authority}\r\n"
            + "Upgrade: websocket\r\n"
            + "Connection: Upgrade\r\n"
            + $"Sec-WebSocket-Key: {key}\r\n"
            + "Sec-WebSocket-Version: 13\r\n"
            + $"Sec-WebSocket-Protocol: {ProtocolVersion.WebSocketSubprotocol}\r\n"
            + (extraHeaders ?? "")
            + "\r\n";
        await client.WriteAsync(Encoding.ASCII.GetBytes(request));
        client.ResponseHead = await client.ReadHeadAsync();
        return client;
    }

    /// <summary>Opens, expects 101 with the right accept key and our subprotocol, and no extension.</summary>
    public static async Task<RawBytesWebSocketClient> OpenUpgradedAsync(GatewayServer server, string? extraHeaders = null)
    {
        var client = await OpenAsync(server, extraHeaders);
        Assert.StartsWith("HTTP/1.1 101 ", client.ResponseHead, StringComparison.Ordinal);
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", client.ResponseHead, StringComparison.Ordinal);
        Assert.Contains($"Sec-WebSocket-Protocol: {ProtocolVersion.WebSocketSubprotocol}\r\n", client.ResponseHead, StringComparison.Ordinal);
        Assert.DoesNotContain("Sec-WebSocket-Extensions", client.ResponseHead, StringComparison.OrdinalIgnoreCase);
        return client;
    }

    /// <summary>A masked frame as bytes (header + masked payload); <paramref name="firstByteBits"/> is OR-ed into byte 0 (RSV bits).</summary>
    public static byte[] Frame(WebSocketOpcode opcode, ReadOnlySpan<byte> payload, bool fin = true, bool masked = true, byte firstByteBits = 0, byte rawOpcode = 0)
    {
        var mask = masked ? (uint?)RandomNumberGenerator.GetInt32(int.MaxValue) : null;
        var bytes = new byte[WebSocketFrameHeader.MaxSize + payload.Length];
        var header = WebSocketFrameHeader.Write(bytes, fin, opcode, payload.Length, mask);
        bytes[0] |= firstByteBits;
        if (rawOpcode != 0)
        {
            bytes[0] = (byte)((bytes[0] & 0xF0) | rawOpcode);
        }

        payload.CopyTo(bytes.AsSpan(header));
        if (mask is { } key)
        {
            WebSocketMask.Apply(bytes.AsSpan(header, payload.Length), key, 0);
        }

        return bytes[..(header + payload.Length)];
    }

    /// <summary>The bytes of one protocol frame.</summary>
    public static byte[] Protocol(Action<IBufferWriter<byte>> write)
    {
        var writer = new ArrayBufferWriter<byte>();
        write(writer);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>A close payload.</summary>
    public static byte[] ClosePayload(ushort code, string reason)
    {
        var payload = new byte[125];
        return payload[..WebSocketClosePayload.Write(payload, code, reason)];
    }

    /// <summary>Writes raw bytes.</summary>
    public Task WriteAsync(byte[] bytes) => WritePartAsync(bytes);

    /// <summary>Writes part of a buffer.</summary>
    public async Task WritePartAsync(ReadOnlyMemory<byte> bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>Reads the next server frame (unmasked): header and payload; null at end of stream.</summary>
    public async Task<(WebSocketFrameHeader Header, byte[] Payload)?> ReadFrameAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(_buffer, _start, _end - _start));
            if (WebSocketFrameHeader.TryRead(ref reader, requireMask: false, out var header) && reader.Remaining >= header.PayloadLength)
            {
                Assert.False(header.Masked); // server frames are never masked
                var headerSize = (int)reader.Consumed;
                var payload = _buffer.AsSpan(_start + headerSize, (int)header.PayloadLength).ToArray();
                _start += headerSize + payload.Length;
                return (header, payload);
            }

            if (!await FillAsync(cts.Token))
            {
                return null;
            }
        }
    }

    /// <summary>Reads protocol frames from binary messages until one matches (control frames other than close are skipped; frames passed over are dropped).</summary>
    public async Task<ReceivedFrame> ReceiveProtocolFrameAsync(Func<ReceivedFrame, bool>? match = null, TimeSpan? timeout = null)
    {
        while (true)
        {
            // Frames decoded earlier from the same message come first.
            while (_decoded.Count > 0)
            {
                var received = _decoded.Dequeue();
                if (match is null || match(received))
                {
                    return received;
                }
            }

            var frame = await ReadFrameAsync(timeout) ?? throw new InvalidOperationException("The server closed the connection.");
            if (frame.Header.Opcode == WebSocketOpcode.Close)
            {
                throw new InvalidOperationException($"The server closed: {CloseOf(frame.Payload)}");
            }

            if (frame.Header.IsControl)
            {
                continue;
            }

            _pending.AddRange(frame.Payload);
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(_pending.ToArray()));
            while (FrameReader.TryRead(ref reader, ProtocolLimits.Default, out var decoded))
            {
                _decoded.Enqueue(ReceivedFrame.From(decoded));
            }

            _pending.RemoveRange(0, (int)reader.Consumed);
        }
    }

    /// <summary>Reads until the server's close frame (skipping everything else); returns its code and reason, or null at end of stream.</summary>
    public async Task<(ushort Code, string Reason)?> ReadCloseAsync(TimeSpan? timeout = null)
    {
        while (true)
        {
            var frame = await ReadFrameAsync(timeout);
            if (frame is null)
            {
                return null;
            }

            if (frame.Value.Header.Opcode == WebSocketOpcode.Close)
            {
                return CloseOf(frame.Value.Payload);
            }
        }
    }

    /// <summary>Whether the server ends the TCP connection (FIN or reset) within the timeout.</summary>
    public async Task<bool> EndsAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (await FillAsync(cts.Token))
            {
                _start = _end;
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Resets the connection (RST): linger 0, then close.</summary>
    public void Reset()
    {
        _tcp.Client.LingerState = new LingerOption(true, 0);
        _tcp.Client.Close();
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }

    private static (ushort, string) CloseOf(byte[] payload) =>
        payload.Length < 2 ? ((ushort)1005, "") : ((ushort)((payload[0] << 8) | payload[1]), Encoding.UTF8.GetString(payload, 2, payload.Length - 2));

    private async Task<string> ReadHeadAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var index = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
            if (index >= 0)
            {
                var head = Encoding.ASCII.GetString(_buffer, _start, index + 4);
                _start += index + 4;
                return head;
            }

            if (!await FillAsync(cts.Token))
            {
                return Encoding.ASCII.GetString(_buffer, _start, _end - _start);
            }
        }
    }

    /// <summary>Reads more bytes; false at end of stream (or reset).</summary>
    private async Task<bool> FillAsync(CancellationToken token)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        try
        {
            var read = await _stream.ReadAsync(_buffer.AsMemory(_end), token);
            _end += read;
            return read > 0;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>The body after a refusal head (what is left in the buffer plus the rest of the stream).</summary>
    public async Task<string> ReadRestAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var text = new StringBuilder();
        do
        {
            text.Append(Encoding.UTF8.GetString(_buffer, _start, _end - _start));
            _start = _end;
        }
        while (await FillAsync(cts.Token));
        return text.ToString();
    }
}
