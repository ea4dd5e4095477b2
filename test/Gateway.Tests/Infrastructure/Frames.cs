using System.Text;
using Gateway.Protocol;
using Gateway.Protocol.Frames;

namespace Gateway.Tests.Infrastructure;

/// <summary>Shorthands for writing request frames in tests.</summary>
public static class Frames
{
    /// <summary>Subscribe, optionally recovering from a position.</summary>
    public static Action<System.Buffers.IBufferWriter<byte>> Subscribe(uint correlation, string topic, StreamPosition? recover = null) =>
        w => FrameWriter.WriteSubscribe(w, correlation, topic, recover);

    /// <summary>Publish a UTF-8 text payload.</summary>
    public static Action<System.Buffers.IBufferWriter<byte>> Publish(uint correlation, string topic, string payload, Priority priority = Priority.Normal) =>
        w => FrameWriter.WritePublish(w, correlation, priority, topic, Encoding.UTF8.GetBytes(payload));

    /// <summary>Acknowledge a notification.</summary>
    public static Action<System.Buffers.IBufferWriter<byte>> Ack(string topic, ulong offset) =>
        w => FrameWriter.WriteAck(w, topic, offset);
}
