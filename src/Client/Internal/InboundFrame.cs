using System.Buffers;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Client.Internal;

/// <summary>
/// A decoded frame whose variable-length fields are copied out of the receive buffer, so it can be
/// handed to other threads after the pipe has been advanced. This is the client's dispatch unit.
/// </summary>
internal sealed record InboundFrame
{
    public FrameKind Kind { get; init; }

    public FrameFlags Flags { get; init; }

    public uint CorrelationId { get; init; }

    public Priority Priority { get; init; }

    public ulong Epoch { get; init; }

    public ulong Offset { get; init; }

    /// <summary>Message timestamp (Unix ms), Ping/Pong nonce or Refreshed expiry (Unix s).</summary>
    public long Value { get; init; }

    public byte Version { get; init; }

    public ErrorCode ErrorCode { get; init; }

    /// <summary>Connected heartbeat or GoAway delay hint (ms).</summary>
    public uint Milliseconds { get; init; }

    public uint MaxFrameLength { get; init; }

    public ushort MaxSubscriptions { get; init; }

    public string Topic { get; init; } = string.Empty;

    public ReadOnlyMemory<byte> Payload { get; init; }

    /// <summary>Connect/Refresh token, Connected connection id.</summary>
    public string Text1 { get; init; } = string.Empty;

    /// <summary>Connect client name, Connected node id, Error/GoAway text.</summary>
    public string Text2 { get; init; } = string.Empty;

    /// <summary>Connect resume token, Connected user id.</summary>
    public string Text3 { get; init; } = string.Empty;

    /// <summary>Copies a shared-codec frame out of its buffer.</summary>
    public static InboundFrame From(in Frame frame) => new()
    {
        Kind = frame.Kind,
        Flags = frame.Flags,
        CorrelationId = frame.CorrelationId,
        Priority = frame.Priority,
        Epoch = frame.Epoch,
        Offset = frame.Offset,
        Value = frame.Value,
        Version = frame.Version,
        ErrorCode = frame.ErrorCode,
        Milliseconds = frame.Milliseconds,
        MaxFrameLength = frame.MaxFrameLength,
        MaxSubscriptions = frame.MaxSubscriptions,
        Topic = frame.Topic.IsEmpty ? string.Empty : frame.TopicString,
        Payload = frame.Payload.IsEmpty ? ReadOnlyMemory<byte>.Empty : frame.Payload.ToArray(),
        Text1 = Frame.Decode(frame.Text1),
        Text2 = Frame.Decode(frame.Text2),
        Text3 = Frame.Decode(frame.Text3),
    };
}
