using System.Buffers;
using System.Buffers.Binary;

namespace Gateway.Protocol.WebSockets;

/// <summary>
/// One RFC 6455 frame header (§5.2): FIN, opcode, mask key and payload length. <see cref="TryRead(ref SequenceReader{byte}, out WebSocketFrameHeader)"/> parses and checks a
/// client's header (masked, no extensions); <see cref="Write(Span{byte}, bool, WebSocketOpcode, long)"/> writes a server's (unmasked).
/// </summary>
/// <param name="Fin">Last frame of the message.</param>
/// <param name="Opcode">The opcode.</param>
/// <param name="Masked">Whether a mask key follows the length.</param>
/// <param name="MaskKey">The mask key as read from the wire (big-endian); 0 when unmasked.</param>
/// <param name="PayloadLength">Payload bytes that follow the header.</param>
public readonly record struct WebSocketFrameHeader(bool Fin, WebSocketOpcode Opcode, bool Masked, uint MaskKey, long PayloadLength)
{
    /// <summary>Longest header: 2 + 8 (64-bit length) + 4 (mask key).</summary>
    public const int MaxSize = 14;

    /// <summary>Longest server header (unmasked): 2 + 8.</summary>
    public const int MaxServerSize = 10;

    /// <summary>Largest control frame payload (§5.5).</summary>
    public const int MaxControlPayload = 125;

    /// <summary>Whether this is a control frame (close, ping, pong).</summary>
    public bool IsControl => ((byte)Opcode & 0x8) != 0;

    /// <summary>
    /// Reads a client frame header when it is complete in <paramref name="reader"/>; the reader is advanced past it only
    /// then. Throws <see cref="WebSocketProtocolException"/> (1002) on reserved bits, a reserved opcode, a missing mask,
    /// a control frame over 125 bytes or fragmented, or a 64-bit length with the top bit set; the header-level checks
    /// run as soon as their bytes are there, so a bad first byte is refused without waiting for more.
    /// </summary>
    /// <returns>False when more bytes are needed.</returns>
    public static bool TryRead(ref SequenceReader<byte> reader, out WebSocketFrameHeader header) => TryRead(ref reader, requireMask: true, out header);

    /// <summary>Like <see cref="TryRead(ref SequenceReader{byte}, out WebSocketFrameHeader)"/>; <paramref name="requireMask"/> false parses server frames (clients, tests).</summary>
    public static bool TryRead(ref SequenceReader<byte> reader, bool requireMask, out WebSocketFrameHeader header)
    {
        header = default;
        Span<byte> bytes = stackalloc byte[MaxSize];
        var available = (int)Math.Min(reader.Remaining, MaxSize);
        if (available < 2)
        {
            if (available == 1)
            {
                reader.TryPeek(out var first);
                CheckFirstByte(first);
            }

            return false;
        }

        reader.TryCopyTo(bytes[..available]);
        var b0 = bytes[0];
        var b1 = bytes[1];
        CheckFirstByte(b0);
        var fin = (b0 & 0x80) != 0;
        var opcode = (WebSocketOpcode)(b0 & 0x0F);
        var masked = (b1 & 0x80) != 0;
        if (requireMask && !masked)
        {
            WebSocketProtocolException.Throw(WebSocketProtocolError.UnmaskedFrame, "Client frames must be masked (RFC 6455 §5.1).");
        }

        var length7 = b1 & 0x7F;
        var isControl = ((byte)opcode & 0x8) != 0;
        if (isControl)
        {
            if (!fin)
            {
                WebSocketProtocolException.Throw(WebSocketProtocolError.FragmentedControlFrame, "Control frames must not be fragmented (RFC 6455 §5.5).");
            }

            if (length7 > MaxControlPayload)
            {
                WebSocketProtocolException.Throw(WebSocketProtocolError.ControlFrameTooLong, "Control frames carry at most 125 bytes (RFC 6455 §5.5).");
            }
        }

        var lengthBytes = length7 switch { 126 => 2, 127 => 8, _ => 0 };
        var size = 2 + lengthBytes + (masked ? 4 : 0);
        if (available < size)
        {
            if (lengthBytes == 8 && available >= 3 && (bytes[2] & 0x80) != 0)
            {
                WebSocketProtocolException.Throw(WebSocketProtocolError.InvalidLength, "The 64-bit payload length must have its top bit clear (RFC 6455 §5.2).");
            }

            return false;
        }

        long length = lengthBytes switch
        {
            2 => BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]),
            8 => (long)BinaryPrimitives.ReadUInt64BigEndian(bytes[2..]),
            _ => length7,
        };
        if (length < 0)
        {
            WebSocketProtocolException.Throw(WebSocketProtocolError.InvalidLength, "The 64-bit payload length must have its top bit clear (RFC 6455 §5.2).");
        }

        var mask = masked ? BinaryPrimitives.ReadUInt32BigEndian(bytes[(2 + lengthBytes)..]) : 0u;
        reader.Advance(size);
        header = new WebSocketFrameHeader(fin, opcode, masked, mask, length);
        return true;
    }

    /// <summary>Size of a header for <paramref name="payloadLength"/>, unmasked or with a mask key.</summary>
    public static int SizeOf(long payloadLength, bool masked = false) =>
        (payloadLength <= 125 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10) + (masked ? 4 : 0);

    /// <summary>Writes an unmasked (server) header into <paramref name="destination"/>.</summary>
    /// <returns>Bytes written (2, 4 or 10).</returns>
    public static int Write(Span<byte> destination, bool fin, WebSocketOpcode opcode, long payloadLength) => Write(destination, fin, opcode, payloadLength, null);

    /// <summary>Writes a header; with <paramref name="maskKey"/> the mask bit and key too (clients, tests). The payload is not masked here.</summary>
    /// <returns>Bytes written.</returns>
    public static int Write(Span<byte> destination, bool fin, WebSocketOpcode opcode, long payloadLength, uint? maskKey)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        destination[0] = (byte)((fin ? 0x80 : 0) | (byte)opcode);
        var maskBit = maskKey.HasValue ? 0x80 : 0;
        int size;
        if (payloadLength <= 125)
        {
            destination[1] = (byte)(maskBit | (int)payloadLength);
            size = 2;
        }
        else if (payloadLength <= ushort.MaxValue)
        {
            destination[1] = (byte)(maskBit | 126);
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
            size = 4;
        }
        else
        {
            destination[1] = (byte)(maskBit | 127);
            BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payloadLength);
            size = 10;
        }

        if (maskKey is { } key)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination[size..], key);
            size += 4;
        }

        return size;
    }

    /// <summary>Writes an unmasked (server) header into <paramref name="writer"/> and advances it.</summary>
    public static void Write(IBufferWriter<byte> writer, bool fin, WebSocketOpcode opcode, long payloadLength)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var written = Write(writer.GetSpan(MaxServerSize), fin, opcode, payloadLength);
        writer.Advance(written);
    }

    private static void CheckFirstByte(byte b0)
    {
        if ((b0 & 0x70) != 0)
        {
            WebSocketProtocolException.Throw(WebSocketProtocolError.ReservedBits, "RSV1-3 must be 0: no extension was negotiated (RFC 6455 §5.2).");
        }

        switch ((WebSocketOpcode)(b0 & 0x0F))
        {
            case WebSocketOpcode.Continuation or WebSocketOpcode.Text or WebSocketOpcode.Binary or WebSocketOpcode.Close or WebSocketOpcode.Ping or WebSocketOpcode.Pong:
                break;
            default:
                WebSocketProtocolException.Throw(WebSocketProtocolError.UnknownOpcode, "Reserved opcode (RFC 6455 §5.2).");
                break;
        }
    }
}
