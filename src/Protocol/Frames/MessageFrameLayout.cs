using System.Buffers.Binary;

namespace Gateway.Protocol.Frames;

/// <summary>
/// Fixed field positions of an encoded Message frame (protocol v1: header(6) priority(1) epoch(8)
/// offset(8) timestamp(8) topic payload). The dispatcher serializes a Message once with a zero position
/// and patches epoch/offset (and flags, for replayed copies) in place; this type is the one place outside
/// the writer that knows where those fields are.
/// </summary>
public static class MessageFrameLayout
{
    /// <summary>Byte offset of the header's flags byte.</summary>
    public const int FlagsAt = 5;

    /// <summary>Byte offset of the priority byte.</summary>
    public const int PriorityAt = ProtocolLimits.HeaderSize;

    /// <summary>Byte offset of the big-endian u64 epoch.</summary>
    public const int EpochAt = PriorityAt + 1;

    /// <summary>Byte offset of the big-endian u64 offset.</summary>
    public const int OffsetAt = EpochAt + 8;

    /// <summary>Byte offset of the big-endian u64 timestamp (Unix milliseconds).</summary>
    public const int TimestampAt = OffsetAt + 8;

    /// <summary>Writes the stream position into an encoded Message frame.</summary>
    public static void WritePosition(Span<byte> frame, ulong epoch, ulong offset)
    {
        BinaryPrimitives.WriteUInt64BigEndian(frame[EpochAt..], epoch);
        BinaryPrimitives.WriteUInt64BigEndian(frame[OffsetAt..], offset);
    }

    /// <summary>Reads the offset of an encoded Message frame.</summary>
    public static ulong ReadOffset(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt64BigEndian(frame[OffsetAt..]);

    /// <summary>Reads the epoch of an encoded Message frame.</summary>
    public static ulong ReadEpoch(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt64BigEndian(frame[EpochAt..]);

    /// <summary>Reads the priority of an encoded Message frame.</summary>
    public static Priority ReadPriority(ReadOnlySpan<byte> frame) => (Priority)(frame[PriorityAt] & 3);

    /// <summary>Overwrites the flags of an encoded Message frame (Replayed, Retained).</summary>
    public static void WriteFlags(Span<byte> frame, FrameFlags flags) => frame[FlagsAt] = (byte)flags;
}
