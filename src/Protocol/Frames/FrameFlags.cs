namespace Gateway.Protocol.Frames;

/// <summary>
/// Kind-specific bits of the header flags byte. A bit not defined for a frame's kind must be zero
/// (otherwise <see cref="Errors.ErrorCode.InvalidFlags"/>).
/// </summary>
// Bits are reused across kinds on purpose: each kind defines its own meaning for the same bit.
#pragma warning disable CA1069
[Flags]
public enum FrameFlags : byte
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>Subscribe: the (epoch, offset) fields are a recovery position.</summary>
    Recover = 0x01,

    /// <summary>Subscribed: recovery was requested and every missed message follows.</summary>
    Recovered = 0x01,
    /// <summary>Subscribed: recovery was requested and could not be done; refetch state.</summary>
    RecoveryFailed = 0x02,

    /// <summary>Message: replayed from history (recovery or pending notification).</summary>
    Replayed = 0x01,
    /// <summary>Message: the retained latest state of a workflow topic, sent on subscribe.</summary>
    Retained = 0x02,
}
#pragma warning restore CA1069
