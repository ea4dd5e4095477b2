using System.Buffers;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Tests.Infrastructure;

/// <summary>A decoded frame copied out of the receive buffer (tests keep frames around).</summary>
public sealed record ReceivedFrame(
    FrameKind Kind,
    FrameFlags Flags,
    uint CorrelationId,
    Priority Priority,
    ulong Epoch,
    ulong Offset,
    long Value,
    ErrorCode ErrorCode,
    uint Milliseconds,
    string Topic,
    byte[] Payload,
    string Text1,
    string Text2,
    string Text3,
    uint MaxFrameLength,
    ushort MaxSubscriptions)
{
    /// <summary>Copies a decoded frame.</summary>
    public static ReceivedFrame From(in Frame frame) => new(
        frame.Kind,
        frame.Flags,
        frame.CorrelationId,
        frame.Priority,
        frame.Epoch,
        frame.Offset,
        frame.Value,
        frame.ErrorCode,
        frame.Milliseconds,
        frame.Topic.IsEmpty ? "" : frame.TopicString,
        frame.Payload.ToArray(),
        Frame.Decode(frame.Text1),
        Frame.Decode(frame.Text2),
        Frame.Decode(frame.Text3),
        frame.MaxFrameLength,
        frame.MaxSubscriptions);

    /// <summary>The payload as UTF-8 text.</summary>
    public string PayloadText => System.Text.Encoding.UTF8.GetString(Payload);

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        FrameKind.Error => $"Error({ErrorCatalog.Get(ErrorCode).Name}, corr {CorrelationId}: {Text2})",
        FrameKind.Message => $"Message({Topic} @{Epoch}:{Offset} {Priority} flags {Flags}: {PayloadText})",
        _ => $"{Kind}(corr {CorrelationId}, topic {Topic}, {Epoch}:{Offset})",
    };
}
