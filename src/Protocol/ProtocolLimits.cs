namespace Gateway.Protocol;

/// <summary>Bounds every decoded field is checked against (docs/protocol.md §4).</summary>
public sealed record ProtocolLimits
{
    /// <summary>Fixed size of the frame header: length (u32 BE), kind (u8), flags (u8).</summary>
    public const int HeaderSize = 6;

    /// <summary>Largest topic, in UTF-8 bytes (fixed by the u8 length prefix).</summary>
    public const int MaxTopicBytes = 255;

    /// <summary>Largest token (connect/refresh), in bytes.</summary>
    public const int MaxTokenBytes = 8192;

    /// <summary>Largest client name / ids / resume token, in bytes (u8 prefix).</summary>
    public const int MaxShortStringBytes = 255;

    /// <summary>Largest error / go-away text, in bytes.</summary>
    public const int MaxTextBytes = 1024;

    /// <summary>Default bound of a frame's declared body length.</summary>
    public const int DefaultMaxFrameLength = 64 * 1024;

    /// <summary>The defaults of protocol v1.</summary>
    public static ProtocolLimits Default { get; } = new();

    /// <summary>
    /// Largest accepted body length (the header's length field). Checked as soon as the header
    /// is readable, before anything is buffered. Must be between 64 and 16 MiB.
    /// </summary>
    public int MaxFrameLength
    {
        get;
        init
        {
            // A smaller bound could not carry a Connected frame; a larger one would let one peer pin lots of memory.
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 64);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 16 * 1024 * 1024);
            field = value;
        }
    } = DefaultMaxFrameLength;
}
