using System.Buffers;
using System.Text;

namespace Gateway.Protocol.Frames;

/// <summary>
/// One decoded frame of protocol v1. Which members are meaningful depends on <see cref="Kind"/>
/// (docs/protocol.md §5). Variable-length fields are slices of the input sequence: the frame is
/// only valid until the reader's buffer is advanced past it, and decoding allocates nothing.
/// </summary>
public readonly struct Frame
{
    /// <summary>The frame kind.</summary>
    public FrameKind Kind { get; init; }

    /// <summary>Kind-specific header flags.</summary>
    public FrameFlags Flags { get; init; }

    /// <summary>Correlation id (Subscribe, Subscribed, Unsubscribe, Unsubscribed, Publish, PublishAck, Error, Refresh, Refreshed). 0 = none.</summary>
    public uint CorrelationId { get; init; }

    /// <summary>Priority (Publish, Message).</summary>
    public Priority Priority { get; init; }

    /// <summary>Topic epoch (Subscribe with Recover, Subscribed, PublishAck, Message).</summary>
    public ulong Epoch { get; init; }

    /// <summary>Offset within the epoch (Subscribe with Recover, Subscribed, PublishAck, Message, Ack).</summary>
    public ulong Offset { get; init; }

    /// <summary>
    /// A 64-bit number whose meaning depends on the kind: Message timestamp (Unix ms), Ping/Pong nonce,
    /// Refreshed expiry (Unix s).
    /// </summary>
    public long Value { get; init; }

    /// <summary>Connect: protocol version byte.</summary>
    public byte Version { get; init; }

    /// <summary>Error: the error code.</summary>
    public Errors.ErrorCode ErrorCode { get; init; }

    /// <summary>Connected: heartbeat interval (ms). GoAway: reconnect delay hint (ms).</summary>
    public uint Milliseconds { get; init; }

    /// <summary>Connected: the largest frame body the server accepts.</summary>
    public uint MaxFrameLength { get; init; }

    /// <summary>Connected: the largest number of subscriptions per connection.</summary>
    public ushort MaxSubscriptions { get; init; }

    /// <summary>Topic (UTF-8) of Subscribe, Subscribed, Unsubscribe, Unsubscribed, Publish, Message, Ack.</summary>
    public ReadOnlySequence<byte> Topic { get; init; }

    /// <summary>Payload of Publish and Message (the rest of the frame).</summary>
    public ReadOnlySequence<byte> Payload { get; init; }

    /// <summary>Connect/Refresh: token. Connected: connection id.</summary>
    public ReadOnlySequence<byte> Text1 { get; init; }

    /// <summary>Connect: client name. Connected: node id. Error, GoAway: text.</summary>
    public ReadOnlySequence<byte> Text2 { get; init; }

    /// <summary>Connect: resume token. Connected: user id.</summary>
    public ReadOnlySequence<byte> Text3 { get; init; }

    /// <summary>Connect: client name (alias of <see cref="Text2"/>).</summary>
    public ReadOnlySequence<byte> ClientName => Text2;

    /// <summary>Connect: resume token (alias of <see cref="Text3"/>); empty when none.</summary>
    public ReadOnlySequence<byte> ResumeToken => Text3;

    /// <summary>Connected: connection id (alias of <see cref="Text1"/>).</summary>
    public ReadOnlySequence<byte> ConnectionId => Text1;

    /// <summary>Connected: node id (alias of <see cref="Text2"/>).</summary>
    public ReadOnlySequence<byte> NodeId => Text2;

    /// <summary>Connected: user id (alias of <see cref="Text3"/>).</summary>
    public ReadOnlySequence<byte> UserId => Text3;

    /// <summary>Decodes <see cref="Topic"/> (allocates; not for hot paths).</summary>
    public string TopicString => Decode(Topic);

    /// <summary>Connect/Refresh token (allocates).</summary>
    public string Token => Decode(Text1);

    /// <summary>Error/GoAway text (allocates).</summary>
    public string Text => Decode(Text2);

    /// <summary>Decodes a UTF-8 field to a string (allocates).</summary>
    public static string Decode(in ReadOnlySequence<byte> field) =>
        field.IsEmpty ? string.Empty : Encoding.UTF8.GetString(field);
}
