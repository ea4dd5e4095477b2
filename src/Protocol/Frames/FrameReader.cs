using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Topics;

namespace Gateway.Protocol.Frames;

/// <summary>
/// Decodes protocol v1 frames from a byte sequence, in the style of Kestrel's HTTP/2 frame reader:
/// <c>TryRead</c> returns false on incomplete input without consuming anything, and throws
/// <see cref="ProtocolException"/> (never another exception type) on malformed input. The declared
/// length and the kind are checked as soon as the 6-byte header is readable, so an oversized or
/// unknown frame is refused before its body is buffered.
/// </summary>
public static class FrameReader
{
    /// <summary>
    /// Tries to read one whole frame. On success advances <paramref name="reader"/> past it.
    /// The returned frame's fields slice the reader's sequence.
    /// </summary>
    /// <returns>False when more bytes are needed (nothing consumed).</returns>
    /// <exception cref="ProtocolException">The input is malformed.</exception>
    public static bool TryRead(ref SequenceReader<byte> reader, ProtocolLimits limits, out Frame frame)
    {
        frame = default;
        if (!TryReadHeader(ref reader, limits, out var header))
        {
            return false;
        }

        if (reader.Remaining < ProtocolLimits.HeaderSize + header.Length)
        {
            return false;
        }

        var body = reader.Sequence.Slice(reader.Position).Slice(ProtocolLimits.HeaderSize, header.Length);
        frame = ParseBody(header, body);
        reader.Advance(ProtocolLimits.HeaderSize + header.Length);
        return true;
    }

    /// <summary>Reads one frame from a sequence; see <see cref="TryRead(ref SequenceReader{byte}, ProtocolLimits, out Frame)"/>.</summary>
    /// <param name="buffer">The input.</param>
    /// <param name="limits">The bounds to enforce.</param>
    /// <param name="frame">The frame.</param>
    /// <param name="consumed">Position after the frame (the start when false).</param>
    public static bool TryRead(in ReadOnlySequence<byte> buffer, ProtocolLimits limits, out Frame frame, out SequencePosition consumed)
    {
        var reader = new SequenceReader<byte>(buffer);
        var ok = TryRead(ref reader, limits, out frame);
        consumed = reader.Position;
        return ok;
    }

    /// <summary>
    /// Peeks at the header without consuming: false when fewer than 6 bytes are available; throws
    /// when the declared length exceeds the limit, the kind is unknown or undefined flags are set.
    /// </summary>
    public static bool TryReadHeader(ref SequenceReader<byte> reader, ProtocolLimits limits, out FrameHeader header)
    {
        ArgumentNullException.ThrowIfNull(limits);
        Span<byte> raw = stackalloc byte[ProtocolLimits.HeaderSize];
        if (!reader.TryCopyTo(raw))
        {
            // Even a partial header can prove the frame is too large: check the length bytes we have.
            header = default;
            if (reader.Remaining >= 4)
            {
                reader.TryCopyTo(raw[..4]);
                CheckLength(BinaryPrimitives.ReadUInt32BigEndian(raw), limits);
            }

            return false;
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(raw);
        CheckLength(length, limits);
        var kind = (FrameKind)raw[4];
        var flags = (FrameFlags)raw[5];
        if (!IsKnown(kind))
        {
            ProtocolException.Throw(ErrorCode.UnknownFrameKind, $"Unknown frame kind 0x{raw[4]:x2}.");
        }

        if ((flags & ~AllowedFlags(kind)) != 0)
        {
            ProtocolException.Throw(ErrorCode.InvalidFlags, $"Flags 0x{raw[5]:x2} are not valid for {kind}.");
        }

        header = new FrameHeader((int)length, kind, flags);
        return true;
    }

    /// <summary>Whether <paramref name="kind"/> is defined in protocol v1.</summary>
    public static bool IsKnown(FrameKind kind) => kind is >= FrameKind.Connect and <= FrameKind.Refreshed;

    /// <summary>The header flag bits defined for <paramref name="kind"/>.</summary>
    public static FrameFlags AllowedFlags(FrameKind kind) => kind switch
    {
        FrameKind.Subscribe => FrameFlags.Recover,
        FrameKind.Subscribed => FrameFlags.Recovered | FrameFlags.RecoveryFailed,
        FrameKind.Message => FrameFlags.Replayed | FrameFlags.Retained,
        _ => FrameFlags.None,
    };

    private static void CheckLength(uint length, ProtocolLimits limits)
    {
        if (length > (uint)limits.MaxFrameLength)
        {
            ProtocolException.Throw(ErrorCode.FrameTooLarge, $"Declared frame length {length} exceeds the maximum {limits.MaxFrameLength}.");
        }
    }

    private static Frame ParseBody(FrameHeader header, ReadOnlySequence<byte> body)
    {
        var r = new SequenceReader<byte>(body);
        Frame frame;
        switch (header.Kind)
        {
            case FrameKind.Connect:
                {
                    var version = ReadU8(ref r);
                    if (version != ProtocolVersion.Current)
                    {
                        // Refused before the rest is trusted: a newer client may lay out the body differently.
                        ProtocolException.Throw(ErrorCode.UnsupportedVersion, $"Protocol version {version} is not supported (this server speaks {ProtocolVersion.Current}).");
                    }

                    var token = ReadString16(ref r, ProtocolLimits.MaxTokenBytes);
                    var name = ReadString8(ref r);
                    var resume = ReadString8(ref r);
                    frame = new Frame { Kind = header.Kind, Version = version, Text1 = token, Text2 = name, Text3 = resume };
                    break;
                }

            case FrameKind.Connected:
                {
                    var heartbeat = ReadU32(ref r);
                    var maxFrame = ReadU32(ref r);
                    var maxSubs = ReadU16(ref r);
                    var connectionId = ReadString8(ref r);
                    var nodeId = ReadString8(ref r);
                    var userId = ReadString8(ref r);
                    frame = new Frame
                    {
                        Kind = header.Kind,
                        Milliseconds = heartbeat,
                        MaxFrameLength = maxFrame,
                        MaxSubscriptions = maxSubs,
                        Text1 = connectionId,
                        Text2 = nodeId,
                        Text3 = userId,
                    };
                    break;
                }

            case FrameKind.Subscribe:
            case FrameKind.Subscribed:
                {
                    if (header.Flags == (FrameFlags.Recovered | FrameFlags.RecoveryFailed))
                    {
                        ProtocolException.Throw(ErrorCode.InvalidFlags, "Recovered and RecoveryFailed are exclusive.");
                    }

                    var correlation = ReadU32(ref r);
                    var epoch = ReadU64(ref r);
                    var offset = ReadU64(ref r);
                    var topic = ReadTopic(ref r);
                    frame = new Frame { Kind = header.Kind, Flags = header.Flags, CorrelationId = correlation, Epoch = epoch, Offset = offset, Topic = topic };
                    break;
                }

            case FrameKind.Unsubscribe:
            case FrameKind.Unsubscribed:
                {
                    var correlation = ReadU32(ref r);
                    var topic = ReadTopic(ref r);
                    frame = new Frame { Kind = header.Kind, CorrelationId = correlation, Topic = topic };
                    break;
                }

            case FrameKind.Publish:
                {
                    var correlation = ReadU32(ref r);
                    var priority = ReadPriority(ref r);
                    var topic = ReadTopic(ref r);
                    var payload = r.UnreadSequence;
                    r.AdvanceToEnd();
                    frame = new Frame { Kind = header.Kind, CorrelationId = correlation, Priority = priority, Topic = topic, Payload = payload };
                    break;
                }

            case FrameKind.PublishAck:
                {
                    var correlation = ReadU32(ref r);
                    var epoch = ReadU64(ref r);
                    var offset = ReadU64(ref r);
                    frame = new Frame { Kind = header.Kind, CorrelationId = correlation, Epoch = epoch, Offset = offset };
                    break;
                }

            case FrameKind.Message:
                {
                    var priority = ReadPriority(ref r);
                    var epoch = ReadU64(ref r);
                    var offset = ReadU64(ref r);
                    var timestamp = (long)ReadU64(ref r);
                    var topic = ReadTopic(ref r);
                    var payload = r.UnreadSequence;
                    r.AdvanceToEnd();
                    frame = new Frame
                    {
                        Kind = header.Kind,
                        Flags = header.Flags,
                        Priority = priority,
                        Epoch = epoch,
                        Offset = offset,
                        Value = timestamp,
                        Topic = topic,
                        Payload = payload,
                    };
                    break;
                }

            case FrameKind.Ack:
                {
                    var offset = ReadU64(ref r);
                    var topic = ReadTopic(ref r);
                    frame = new Frame { Kind = header.Kind, Offset = offset, Topic = topic };
                    break;
                }

            case FrameKind.Ping:
            case FrameKind.Pong:
                frame = new Frame { Kind = header.Kind, Value = (long)ReadU64(ref r) };
                break;

            case FrameKind.Error:
                {
                    var code = ReadU16(ref r);
                    if (code == 0)
                    {
                        ProtocolException.Throw(ErrorCode.MalformedFrame, "Error frame with code 0.");
                    }

                    var correlation = ReadU32(ref r);
                    var text = ReadString16(ref r, ProtocolLimits.MaxTextBytes);
                    frame = new Frame { Kind = header.Kind, ErrorCode = (ErrorCode)code, CorrelationId = correlation, Text2 = text };
                    break;
                }

            case FrameKind.GoAway:
                {
                    var delay = ReadU32(ref r);
                    var text = ReadString16(ref r, ProtocolLimits.MaxTextBytes);
                    frame = new Frame { Kind = header.Kind, Milliseconds = delay, Text2 = text };
                    break;
                }

            case FrameKind.Refresh:
                {
                    var correlation = ReadU32(ref r);
                    var token = ReadString16(ref r, ProtocolLimits.MaxTokenBytes);
                    frame = new Frame { Kind = header.Kind, CorrelationId = correlation, Text1 = token };
                    break;
                }

            case FrameKind.Refreshed:
                {
                    var correlation = ReadU32(ref r);
                    var expires = (long)ReadU64(ref r);
                    frame = new Frame { Kind = header.Kind, CorrelationId = correlation, Value = expires };
                    break;
                }

            default:
                ProtocolException.Throw(ErrorCode.UnknownFrameKind, $"Unknown frame kind 0x{(byte)header.Kind:x2}.");
                return default;
        }

        if (!r.End)
        {
            ProtocolException.Throw(ErrorCode.TrailingBytes, $"{r.Remaining} bytes after the last field of {header.Kind}.");
        }

        return frame;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte ReadU8(ref SequenceReader<byte> r)
    {
        if (!r.TryRead(out var value))
        {
            ThrowOverrun();
        }

        return value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort ReadU16(ref SequenceReader<byte> r)
    {
        if (!r.TryReadBigEndian(out short value))
        {
            ThrowOverrun();
        }

        return (ushort)value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint ReadU32(ref SequenceReader<byte> r)
    {
        if (!r.TryReadBigEndian(out int value))
        {
            ThrowOverrun();
        }

        return (uint)value;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadU64(ref SequenceReader<byte> r)
    {
        if (!r.TryReadBigEndian(out long value))
        {
            ThrowOverrun();
        }

        return (ulong)value;
    }

    private static Priority ReadPriority(ref SequenceReader<byte> r)
    {
        var value = ReadU8(ref r);
        if (value > (byte)Priority.Low)
        {
            ProtocolException.Throw(ErrorCode.InvalidPriority, $"Priority {value} is not 0-3.");
        }

        return (Priority)value;
    }

    private static ReadOnlySequence<byte> ReadTopic(ref SequenceReader<byte> r)
    {
        var length = ReadU8(ref r);
        var topic = Take(ref r, length);
        var error = TopicRules.Validate(topic);
        if (error != ErrorCode.None)
        {
            ProtocolException.Throw(error, error == ErrorCode.InvalidUtf8 ? "Topic is not valid UTF-8." : "Topic is empty or contains a forbidden character.");
        }

        return topic;
    }

    private static ReadOnlySequence<byte> ReadString8(ref SequenceReader<byte> r)
    {
        var length = ReadU8(ref r);
        return TakeUtf8(ref r, length);
    }

    private static ReadOnlySequence<byte> ReadString16(ref SequenceReader<byte> r, int max)
    {
        var length = ReadU16(ref r);
        if (length > max)
        {
            ProtocolException.Throw(ErrorCode.FieldTooLong, $"String of {length} bytes exceeds its bound {max}.");
        }

        return TakeUtf8(ref r, length);
    }

    private static ReadOnlySequence<byte> TakeUtf8(ref SequenceReader<byte> r, int length)
    {
        var value = Take(ref r, length);
        if (!Utf8Strict.IsValid(value))
        {
            ProtocolException.Throw(ErrorCode.InvalidUtf8, "String field is not valid UTF-8.");
        }

        return value;
    }

    private static ReadOnlySequence<byte> Take(ref SequenceReader<byte> r, int length)
    {
        if (r.Remaining < length)
        {
            ThrowOverrun();
        }

        var value = r.UnreadSequence.Slice(0, length);
        r.Advance(length);
        return value;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowOverrun() =>
        throw new ProtocolException(ErrorCode.FieldOverrun, "A field runs past the end of the frame.");
}
