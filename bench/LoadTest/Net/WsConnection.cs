using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace LoadTest.Net;

/// <summary>
/// A minimal RFC 6455 client over a raw socket: one receive buffer, many frames parsed per read,
/// no per-message allocation. Used for every server under test so the client cost is identical.
/// Client frames are masked with a zero key (legal; servers do not check the key's randomness).
/// </summary>
public abstract class WsConnection : ClientConnection
{
    private static readonly byte[] HeaderEnd = "\r\n\r\n"u8.ToArray();
    private ArrayBufferWriter<byte>? _fragments;
    private byte _fragmentOpcode;

    protected WsConnection(int bufferSize)
        : base(bufferSize)
    {
    }

    public ushort CloseStatus { get; private set; }

    /// <summary>Opens the socket and performs the HTTP/1.1 upgrade.</summary>
    protected async Task ConnectWsAsync(IPEndPoint remote, IPAddress? local, string pathAndQuery, string? subprotocol, CancellationToken ct)
    {
        await OpenSocketAsync(remote, local, ct).ConfigureAwait(false);
        var key = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
        var sb = new StringBuilder();
        sb.Append("GET ").Append(pathAndQuery).Append(" HTTP/1.1\r\nHost: ").Append(remote).Append("\r\n");
        sb.Append("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ").Append(key).Append("\r\n");
        if (subprotocol != null)
        {
            sb.Append("Sec-WebSocket-Protocol: ").Append(subprotocol).Append("\r\n");
        }

        sb.Append("\r\n");
        await SendAsync(Encoding.ASCII.GetBytes(sb.ToString())).ConfigureAwait(false);
        var head = Encoding.ASCII.GetString(await ReadUntilAsync(HeaderEnd, ct).ConfigureAwait(false));
        if (!head.StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
        {
            var firstLine = head.Split("\r\n")[0];
            throw new IOException("WebSocket upgrade refused: " + firstLine);
        }
    }

    protected override int OnBytes(ReadOnlySpan<byte> data)
    {
        var consumed = 0;
        while (true)
        {
            var rest = data[consumed..];
            if (rest.Length < 2)
            {
                return consumed;
            }

            var b0 = rest[0];
            var b1 = rest[1];
            var fin = (b0 & 0x80) != 0;
            var opcode = (byte)(b0 & 0x0F);
            var masked = (b1 & 0x80) != 0;
            long len = b1 & 0x7F;
            var pos = 2;
            if (len == 126)
            {
                if (rest.Length < 4)
                {
                    return consumed;
                }

                len = BinaryPrimitives.ReadUInt16BigEndian(rest[2..]);
                pos = 4;
            }
            else if (len == 127)
            {
                if (rest.Length < 10)
                {
                    return consumed;
                }

                len = (long)BinaryPrimitives.ReadUInt64BigEndian(rest[2..]);
                pos = 10;
            }

            if (masked)
            {
                pos += 4; // servers never mask; tolerate and ignore
            }

            if (rest.Length < pos + len)
            {
                return consumed;
            }

            var payload = rest.Slice(pos, (int)len);
            consumed += pos + (int)len;
            if (opcode >= 0x8)
            {
                HandleControl(opcode, payload);
                if (Closed)
                {
                    return consumed;
                }

                continue;
            }

            if (opcode == 0 || !fin)
            {
                _fragments ??= new ArrayBufferWriter<byte>();
                if (opcode != 0)
                {
                    _fragments.ResetWrittenCount();
                    _fragmentOpcode = opcode;
                }

                _fragments.Write(payload);
                if (fin)
                {
                    TransportMessages++;
                    OnMessage(_fragments.WrittenSpan, _fragmentOpcode == 1);
                    _fragments.ResetWrittenCount();
                }

                continue;
            }

            TransportMessages++;
            OnMessage(payload, opcode == 1);
        }
    }

    private void HandleControl(byte opcode, ReadOnlySpan<byte> payload)
    {
        switch (opcode)
        {
            case 0x9: // ping → pong with the same payload
                var frame = new byte[6 + payload.Length];
                var n = WriteFrameHeader(frame, 0xA, payload.Length);
                payload.CopyTo(frame.AsSpan(n));
                _ = SendAsync(frame.AsMemory(0, n + payload.Length)).AsTask();
                break;
            case 0x8:
                CloseStatus = payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(payload) : (ushort)1005;
                var reason = payload.Length > 2 ? Encoding.UTF8.GetString(payload[2..]) : string.Empty;
                CloseReason = $"close:{CloseStatus}:{reason}";
                Closed = true;
                try
                {
                    var close = new byte[8];
                    WriteFrameHeader(close, 0x8, 2);
                    BinaryPrimitives.WriteUInt16BigEndian(close.AsSpan(6), CloseStatus is 1005 ? (ushort)1000 : CloseStatus);
                    Socket.Send(close);
                }
                catch (Exception)
                {
                }

                break;
        }
    }

    /// <summary>One whole WebSocket message (binary or text).</summary>
    protected abstract void OnMessage(ReadOnlySpan<byte> payload, bool text);

    /// <summary>Writes a masked (zero key) client frame header; returns its size (6, 8 or 14 bytes).</summary>
    public static int WriteFrameHeader(Span<byte> dst, byte opcode, int length)
    {
        dst[0] = (byte)(0x80 | opcode);
        int pos;
        if (length < 126)
        {
            dst[1] = (byte)(0x80 | length);
            pos = 2;
        }
        else if (length <= ushort.MaxValue)
        {
            dst[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(dst[2..], (ushort)length);
            pos = 4;
        }
        else
        {
            dst[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(dst[2..], (ulong)length);
            pos = 10;
        }

        dst.Slice(pos, 4).Clear();
        return pos + 4;
    }

    /// <summary>Appends one whole client frame (zero mask: the payload is copied unchanged).</summary>
    public static void AppendFrame(IBufferWriter<byte> writer, byte opcode, ReadOnlySpan<byte> payload)
    {
        var span = writer.GetSpan(14 + payload.Length);
        var n = WriteFrameHeader(span, opcode, payload.Length);
        payload.CopyTo(span[n..]);
        writer.Advance(n + payload.Length);
    }

    /// <summary>Reserves a frame header for a payload written afterwards (see <see cref="FrameBuilder"/>).</summary>
    public static void SendClose(WsConnection c)
    {
        var close = new byte[8];
        WriteFrameHeader(close, 0x8, 2);
        BinaryPrimitives.WriteUInt16BigEndian(close.AsSpan(6), 1000);
        try
        {
            c.Socket.Send(close);
        }
        catch (Exception)
        {
        }
    }
}
