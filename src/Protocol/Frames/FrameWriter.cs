using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Topics;

namespace Gateway.Protocol.Frames;

/// <summary>
/// Encodes protocol v1 frames into an <see cref="IBufferWriter{T}"/>. Every method computes the exact
/// frame size first, asks the writer for one contiguous span of that size, fills it and advances once,
/// so a frame is never split and nothing is allocated. Out-of-bound fields throw
/// <see cref="ProtocolException"/> with the code a reader would report.
/// </summary>
public static class FrameWriter
{
    /// <summary>Fixed bytes of a Message frame besides topic and payload: header + priority, epoch, offset, timestamp, topic length.</summary>
    public const int MessageOverhead = ProtocolLimits.HeaderSize + 1 + 8 + 8 + 8 + 1;

    /// <summary>Fixed bytes of a Publish frame besides topic and payload: header + correlation, priority, topic length.</summary>
    public const int PublishOverhead = ProtocolLimits.HeaderSize + 4 + 1 + 1;

    /// <summary>Exact size of a Message frame.</summary>
    public static int GetMessageSize(int topicBytes, int payloadBytes) => MessageOverhead + topicBytes + payloadBytes;

    /// <summary>Exact size of a Publish frame.</summary>
    public static int GetPublishSize(int topicBytes, int payloadBytes) => PublishOverhead + topicBytes + payloadBytes;

    /// <summary>Writes a Message frame (server → client); returns the bytes written.</summary>
    public static int WriteMessage(IBufferWriter<byte> writer, ReadOnlySpan<byte> topicUtf8, Priority priority, ulong epoch, ulong offset, long timestamp, ReadOnlySpan<byte> payload, FrameFlags flags = FrameFlags.None)
    {
        CheckTopic(topicUtf8);
        return WriteMessageCore(writer, topicUtf8, priority, epoch, offset, timestamp, payload, flags);
    }

    /// <summary>Writes a Message frame with a string topic (encoded straight into the destination).</summary>
    public static int WriteMessage(IBufferWriter<byte> writer, string topic, Priority priority, ulong epoch, ulong offset, long timestamp, ReadOnlySpan<byte> payload, FrameFlags flags = FrameFlags.None)
    {
        Span<byte> t = stackalloc byte[ProtocolLimits.MaxTopicBytes];
        return WriteMessageCore(writer, EncodeTopic(topic, t), priority, epoch, offset, timestamp, payload, flags);
    }

    /// <summary>Writes a Publish frame (client → server). <paramref name="correlationId"/> 0 asks for no ack.</summary>
    public static int WritePublish(IBufferWriter<byte> writer, uint correlationId, Priority priority, ReadOnlySpan<byte> topicUtf8, ReadOnlySpan<byte> payload)
    {
        CheckTopic(topicUtf8);
        return WritePublishCore(writer, correlationId, priority, topicUtf8, payload);
    }

    /// <summary>Writes a Publish frame with a string topic.</summary>
    public static int WritePublish(IBufferWriter<byte> writer, uint correlationId, Priority priority, string topic, ReadOnlySpan<byte> payload)
    {
        Span<byte> t = stackalloc byte[ProtocolLimits.MaxTopicBytes];
        return WritePublishCore(writer, correlationId, priority, EncodeTopic(topic, t), payload);
    }

    // The cores take a topic that is already validated (EncodeTopic validates), so the string overloads
    // check it once, not twice.
    private static int WriteMessageCore(IBufferWriter<byte> writer, ReadOnlySpan<byte> topicUtf8, Priority priority, ulong epoch, ulong offset, long timestamp, ReadOnlySpan<byte> payload, FrameFlags flags)
    {
        ArgumentNullException.ThrowIfNull(writer);
        CheckFlags(FrameKind.Message, flags);
        CheckPriority(priority);
        var size = GetMessageSize(topicUtf8.Length, payload.Length);
        var c = Begin(writer, size, FrameKind.Message, flags);
        c.U8((byte)priority);
        c.U64(epoch);
        c.U64(offset);
        c.U64((ulong)timestamp);
        c.Str8(topicUtf8);
        c.Bytes(payload);
        writer.Advance(size);
        return size;
    }

    private static int WritePublishCore(IBufferWriter<byte> writer, uint correlationId, Priority priority, ReadOnlySpan<byte> topicUtf8, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(writer);
        CheckPriority(priority);
        var size = GetPublishSize(topicUtf8.Length, payload.Length);
        var c = Begin(writer, size, FrameKind.Publish, FrameFlags.None);
        c.U32(correlationId);
        c.U8((byte)priority);
        c.Str8(topicUtf8);
        c.Bytes(payload);
        writer.Advance(size);
        return size;
    }

    /// <summary>Writes a Connect frame.</summary>
    public static int WriteConnect(IBufferWriter<byte> writer, byte version, string token, string clientName, string? resumeToken = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var tokenBytes = StringBytes(token, ProtocolLimits.MaxTokenBytes);
        var nameBytes = StringBytes(clientName, ProtocolLimits.MaxShortStringBytes);
        var resumeBytes = StringBytes(resumeToken, ProtocolLimits.MaxShortStringBytes);
        var size = ProtocolLimits.HeaderSize + 1 + 2 + tokenBytes + 1 + nameBytes + 1 + resumeBytes;
        var c = Begin(writer, size, FrameKind.Connect, FrameFlags.None);
        c.U8(version);
        c.Str16(token);
        c.Str8(clientName);
        c.Str8(resumeToken);
        writer.Advance(size);
        return size;
    }

    /// <summary>Writes a Connected frame.</summary>
    public static int WriteConnected(IBufferWriter<byte> writer, uint heartbeatMs, uint maxFrameLength, ushort maxSubscriptions, string connectionId, string nodeId, string userId)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var a = StringBytes(connectionId, ProtocolLimits.MaxShortStringBytes);
        var b = StringBytes(nodeId, ProtocolLimits.MaxShortStringBytes);
        var d = StringBytes(userId, ProtocolLimits.MaxShortStringBytes);
        var size = ProtocolLimits.HeaderSize + 4 + 4 + 2 + 1 + a + 1 + b + 1 + d;
        var c = Begin(writer, size, FrameKind.Connected, FrameFlags.None);
        c.U32(heartbeatMs);
        c.U32(maxFrameLength);
        c.U16(maxSubscriptions);
        c.Str8(connectionId);
        c.Str8(nodeId);
        c.Str8(userId);
        writer.Advance(size);
        return size;
    }

    /// <summary>Writes a Subscribe frame; <paramref name="recoverFrom"/> sets the Recover flag and position.</summary>
    public static int WriteSubscribe(IBufferWriter<byte> writer, uint correlationId, string topic, StreamPosition? recoverFrom = null)
    {
        var flags = recoverFrom.HasValue ? FrameFlags.Recover : FrameFlags.None;
        var position = recoverFrom ?? default;
        return WritePositioned(writer, FrameKind.Subscribe, flags, correlationId, position.Epoch, position.Offset, topic);
    }

    /// <summary>Writes a Subscribed frame with the topic's current position.</summary>
    public static int WriteSubscribed(IBufferWriter<byte> writer, uint correlationId, string topic, ulong epoch, ulong offset, FrameFlags flags = FrameFlags.None)
    {
        if (flags == (FrameFlags.Recovered | FrameFlags.RecoveryFailed))
        {
            ProtocolException.Throw(ErrorCode.InvalidFlags, "Recovered and RecoveryFailed are exclusive.");
        }

        return WritePositioned(writer, FrameKind.Subscribed, flags, correlationId, epoch, offset, topic);
    }

    /// <summary>Writes an Unsubscribe frame.</summary>
    public static int WriteUnsubscribe(IBufferWriter<byte> writer, uint correlationId, string topic) =>
        WriteCorrelatedTopic(writer, FrameKind.Unsubscribe, correlationId, topic);

    /// <summary>Writes an Unsubscribed frame.</summary>
    public static int WriteUnsubscribed(IBufferWriter<byte> writer, uint correlationId, string topic) =>
        WriteCorrelatedTopic(writer, FrameKind.Unsubscribed, correlationId, topic);

    /// <summary>Writes a PublishAck frame.</summary>
    public static int WritePublishAck(IBufferWriter<byte> writer, uint correlationId, ulong epoch, ulong offset)
    {
        ArgumentNullException.ThrowIfNull(writer);
        const int size = ProtocolLimits.HeaderSize + 4 + 8 + 8;
        var c = Begin(writer, size, FrameKind.PublishAck, FrameFlags.None);
        c.U32(correlationId);
        c.U64(epoch);
        c.U64(offset);
        writer.Advance(size);
        return size;
    }

    /// <summary>Writes an Ack frame for a notification.</summary>
    public static int WriteAck(IBufferWriter<byte> writer, string topic, ulong offset)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Span<byte> t = stackalloc byte[ProtocolLimits.MaxTopicBytes];
        var topicBytes = EncodeTopic(topic, t);
        var size = ProtocolLimits.HeaderSize + 8 + 1 + topicBytes.Length;
        var c = Begin(writer, size, FrameKind.Ack, FrameFlags.None);
        c.U64(offset);
        c.Str8(topicBytes);
        writer.Advance(size);
        return size;
    }

    /// <summary>Writes a Ping frame.</summary>
    public static int WritePing(IBufferWriter<byte> writer, long nonce) => WriteU64Only(writer, FrameKind.Ping, (ulong)nonce);

    /// <summary>Writes a Pong frame.</summary>
    public static int WritePong(IBufferWriter<byte> writer, long nonce) => WriteU64Only(writer, FrameKind.Pong, (ulong)nonce);

    /// <summary>Writes an Error frame. <paramref name="text"/> is truncated (on a character boundary) to 1,024 bytes.</summary>
    public static int WriteError(IBufferWriter<byte> writer, ErrorCode code, uint correlationId, string text)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (code == ErrorCode.None)
        {
            throw new ArgumentOutOfRangeException(nameof(code), "An Error frame needs a code.");
        }

        text = Truncate(text, ProtocolLimits.MaxTextBytes);
        var textBytes = Utf8Strict.GetByteCount(text);
        var size = ProtocolLimits.HeaderSize + 2 + 4 + 2 + textBytes;
        var c = Begin(writer, size, FrameKind.Error, FrameFlags.None);
        c.U16((ushort)code);
        c.U32(correlationId);
        c.Str16(text);
        writer.Advance(size);
        return size;
    }

    /// <summary>Writes a GoAway frame.</summary>
    public static int WriteGoAway(IBufferWriter<byte> writer, uint reconnectDelayMs, string reason)
    {
        ArgumentNullException.ThrowIfNull(writer);
        reason = Truncate(reason, ProtocolLimits.MaxTextBytes);
        var size = ProtocolLimits.HeaderSize + 4 + 2 + Utf8Strict.GetByteCount(reason);
        var c = Begin(writer, size, FrameKind.GoAway, FrameFlags.None);
        c.U32(reconnectDelayMs);
        c.Str16(reason);
        writer.Advance(size);
        return size;
    }

    /// <summary>Writes a Refresh frame carrying a new token.</summary>
    public static int WriteRefresh(IBufferWriter<byte> writer, uint correlationId, string token)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var size = ProtocolLimits.HeaderSize + 4 + 2 + StringBytes(token, ProtocolLimits.MaxTokenBytes);
        var c = Begin(writer, size, FrameKind.Refresh, FrameFlags.None);
        c.U32(correlationId);
        c.Str16(token);
        writer.Advance(size);
        return size;
    }

    /// <summary>Writes a Refreshed frame with the new expiry (Unix seconds).</summary>
    public static int WriteRefreshed(IBufferWriter<byte> writer, uint correlationId, long expiresAtUnixSeconds)
    {
        ArgumentNullException.ThrowIfNull(writer);
        const int size = ProtocolLimits.HeaderSize + 4 + 8;
        var c = Begin(writer, size, FrameKind.Refreshed, FrameFlags.None);
        c.U32(correlationId);
        c.U64((ulong)expiresAtUnixSeconds);
        writer.Advance(size);
        return size;
    }

    /// <summary>Re-encodes a decoded frame (used by tests, proxies and the golden vectors).</summary>
    public static int Write(IBufferWriter<byte> writer, in Frame frame)
    {
        ArgumentNullException.ThrowIfNull(writer);
        switch (frame.Kind)
        {
            case FrameKind.Connect:
                return WriteConnect(writer, frame.Version, frame.Token, Frame.Decode(frame.Text2), Frame.Decode(frame.Text3));
            case FrameKind.Connected:
                return WriteConnected(writer, frame.Milliseconds, frame.MaxFrameLength, frame.MaxSubscriptions, Frame.Decode(frame.Text1), Frame.Decode(frame.Text2), Frame.Decode(frame.Text3));
            case FrameKind.Subscribe:
                return WritePositioned(writer, FrameKind.Subscribe, frame.Flags, frame.CorrelationId, frame.Epoch, frame.Offset, frame.TopicString);
            case FrameKind.Subscribed:
                return WriteSubscribed(writer, frame.CorrelationId, frame.TopicString, frame.Epoch, frame.Offset, frame.Flags);
            case FrameKind.Unsubscribe:
                return WriteUnsubscribe(writer, frame.CorrelationId, frame.TopicString);
            case FrameKind.Unsubscribed:
                return WriteUnsubscribed(writer, frame.CorrelationId, frame.TopicString);
            case FrameKind.Publish:
                return WritePublish(writer, frame.CorrelationId, frame.Priority, frame.Topic.ToArray(), frame.Payload.ToArray());
            case FrameKind.PublishAck:
                return WritePublishAck(writer, frame.CorrelationId, frame.Epoch, frame.Offset);
            case FrameKind.Message:
                return WriteMessage(writer, frame.Topic.ToArray(), frame.Priority, frame.Epoch, frame.Offset, frame.Value, frame.Payload.ToArray(), frame.Flags);
            case FrameKind.Ack:
                return WriteAck(writer, frame.TopicString, frame.Offset);
            case FrameKind.Ping:
                return WritePing(writer, frame.Value);
            case FrameKind.Pong:
                return WritePong(writer, frame.Value);
            case FrameKind.Error:
                return WriteError(writer, frame.ErrorCode, frame.CorrelationId, frame.Text);
            case FrameKind.GoAway:
                return WriteGoAway(writer, frame.Milliseconds, frame.Text);
            case FrameKind.Refresh:
                return WriteRefresh(writer, frame.CorrelationId, frame.Token);
            case FrameKind.Refreshed:
                return WriteRefreshed(writer, frame.CorrelationId, frame.Value);
            default:
                throw new ArgumentOutOfRangeException(nameof(frame), frame.Kind, "Unknown frame kind.");
        }
    }

    private static int WritePositioned(IBufferWriter<byte> writer, FrameKind kind, FrameFlags flags, uint correlationId, ulong epoch, ulong offset, string topic)
    {
        ArgumentNullException.ThrowIfNull(writer);
        CheckFlags(kind, flags);
        Span<byte> t = stackalloc byte[ProtocolLimits.MaxTopicBytes];
        var topicBytes = EncodeTopic(topic, t);
        var size = ProtocolLimits.HeaderSize + 4 + 8 + 8 + 1 + topicBytes.Length;
        var c = Begin(writer, size, kind, flags);
        c.U32(correlationId);
        c.U64(epoch);
        c.U64(offset);
        c.Str8(topicBytes);
        writer.Advance(size);
        return size;
    }

    private static int WriteCorrelatedTopic(IBufferWriter<byte> writer, FrameKind kind, uint correlationId, string topic)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Span<byte> t = stackalloc byte[ProtocolLimits.MaxTopicBytes];
        var topicBytes = EncodeTopic(topic, t);
        var size = ProtocolLimits.HeaderSize + 4 + 1 + topicBytes.Length;
        var c = Begin(writer, size, kind, FrameFlags.None);
        c.U32(correlationId);
        c.Str8(topicBytes);
        writer.Advance(size);
        return size;
    }

    private static int WriteU64Only(IBufferWriter<byte> writer, FrameKind kind, ulong value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        const int size = ProtocolLimits.HeaderSize + 8;
        var c = Begin(writer, size, kind, FrameFlags.None);
        c.U64(value);
        writer.Advance(size);
        return size;
    }

    /// <summary>Encodes and validates a topic into <paramref name="scratch"/> (at least 255 bytes).</summary>
    public static ReadOnlySpan<byte> EncodeTopic(string topic, Span<byte> scratch)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (topic.Length > ProtocolLimits.MaxTopicBytes || !Utf8Strict.TryGetBytes(topic, scratch, out var written))
        {
            ProtocolException.Throw(ErrorCode.InvalidTopic, "Topic is longer than 255 UTF-8 bytes or not valid UTF-16.");
            return default;
        }

        var bytes = scratch[..written];
        CheckTopic(bytes);
        return bytes;
    }

    private static void CheckTopic(ReadOnlySpan<byte> topicUtf8)
    {
        var error = TopicRules.Validate(topicUtf8);
        if (error != ErrorCode.None)
        {
            ProtocolException.Throw(error, "Invalid topic.");
        }
    }

    private static void CheckPriority(Priority priority)
    {
        if ((byte)priority > (byte)Priority.Low)
        {
            ProtocolException.Throw(ErrorCode.InvalidPriority, $"Priority {(byte)priority} is not 0-3.");
        }
    }

    private static void CheckFlags(FrameKind kind, FrameFlags flags)
    {
        if ((flags & ~FrameReader.AllowedFlags(kind)) != 0)
        {
            ProtocolException.Throw(ErrorCode.InvalidFlags, $"Flags {flags} are not valid for {kind}.");
        }
    }

    private static int StringBytes(string? value, int max)
    {
        var count = string.IsNullOrEmpty(value) ? 0 : Utf8Strict.GetByteCount(value);
        if (count > max)
        {
            ProtocolException.Throw(ErrorCode.FieldTooLong, $"String of {count} bytes exceeds its bound {max}.");
        }

        return count;
    }

    private static string Truncate(string? text, int maxBytes)
    {
        text ??= string.Empty;
        if (text.Length * 3 <= maxBytes || Utf8Strict.GetByteCount(text) <= maxBytes)
        {
            return text;
        }

        var length = Math.Min(text.Length, maxBytes);
        while (length > 0 && Utf8Strict.GetByteCount(text.AsSpan(0, length)) > maxBytes)
        {
            length--;
        }

        if (length > 0 && char.IsHighSurrogate(text[length - 1]))
        {
            length--;
        }

        return text[..length];
    }

    private static SpanCursor Begin(IBufferWriter<byte> writer, int size, FrameKind kind, FrameFlags flags)
    {
        var span = writer.GetSpan(size);
        var c = new SpanCursor(span[..size]);
        c.U32((uint)(size - ProtocolLimits.HeaderSize));
        c.U8((byte)kind);
        c.U8((byte)flags);
        return c;
    }

    /// <summary>Sequential big-endian writes into a span whose size was computed beforehand.</summary>
    private ref struct SpanCursor(Span<byte> span)
    {
        private readonly Span<byte> _span = span;
        private int _position;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void U8(byte value) => _span[_position++] = value;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void U16(ushort value)
        {
            BinaryPrimitives.WriteUInt16BigEndian(_span[_position..], value);
            _position += 2;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void U32(uint value)
        {
            BinaryPrimitives.WriteUInt32BigEndian(_span[_position..], value);
            _position += 4;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void U64(ulong value)
        {
            BinaryPrimitives.WriteUInt64BigEndian(_span[_position..], value);
            _position += 8;
        }

        public void Bytes(scoped ReadOnlySpan<byte> value)
        {
            value.CopyTo(_span[_position..]);
            _position += value.Length;
        }

        public void Str8(scoped ReadOnlySpan<byte> value)
        {
            U8((byte)value.Length);
            Bytes(value);
        }

        public void Str8(string? value)
        {
            var written = Utf8Strict.Encoding.GetBytes(value ?? string.Empty, _span[(_position + 1)..]);
            U8((byte)written);
            _position += written;
        }

        public void Str16(string? value)
        {
            var written = Utf8Strict.Encoding.GetBytes(value ?? string.Empty, _span[(_position + 2)..]);
            U16((ushort)written);
            _position += written;
        }
    }
}
