using System.Buffers.Binary;

namespace Gateway.Protocol.Frames;

/// <summary>The 6-byte frame header: body length (u32 BE), kind (u8), flags (u8).</summary>
/// <param name="Length">Body length in bytes (excluding the header).</param>
/// <param name="Kind">Frame kind.</param>
/// <param name="Flags">Kind-specific flags.</param>
public readonly record struct FrameHeader(int Length, FrameKind Kind, FrameFlags Flags)
{
    /// <summary>
    /// The kind of the frame that <paramref name="encoded"/> holds when it holds exactly one whole frame (as every
    /// buffer the server makes does), else 0. Lets a queue classify a frame once, where it is queued, instead of the
    /// write path re-reading headers.
    /// </summary>
    public static FrameKind KindOfSingle(ReadOnlySpan<byte> encoded) =>
        encoded.Length >= ProtocolLimits.HeaderSize && BinaryPrimitives.ReadUInt32BigEndian(encoded) == (uint)(encoded.Length - ProtocolLimits.HeaderSize)
            ? (FrameKind)encoded[4]
            : 0;

    /// <summary>
    /// Reads the header at the start of <paramref name="encoded"/> (no limit checks: for frames this node encoded).
    /// </summary>
    /// <returns>False when fewer than <see cref="ProtocolLimits.HeaderSize"/> bytes remain.</returns>
    public static bool TryPeek(ReadOnlySpan<byte> encoded, out int frameSize, out FrameKind kind)
    {
        if (encoded.Length < ProtocolLimits.HeaderSize)
        {
            frameSize = 0;
            kind = 0;
            return false;
        }

        frameSize = ProtocolLimits.HeaderSize + (int)BinaryPrimitives.ReadUInt32BigEndian(encoded);
        kind = (FrameKind)encoded[4];
        return true;
    }
}
