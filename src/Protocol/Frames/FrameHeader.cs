namespace Gateway.Protocol.Frames;

/// <summary>The 6-byte frame header: body length (u32 BE), kind (u8), flags (u8).</summary>
/// <param name="Length">Body length in bytes (excluding the header).</param>
/// <param name="Kind">Frame kind.</param>
/// <param name="Flags">Kind-specific flags.</param>
public readonly record struct FrameHeader(int Length, FrameKind Kind, FrameFlags Flags);
