namespace Gateway.Protocol;

/// <summary>A position in a topic stream: the epoch (changes when history is lost) and the offset within it.</summary>
/// <param name="Epoch">Stream epoch; a new epoch means offsets restarted and older positions cannot be recovered.</param>
/// <param name="Offset">Offset of the last message seen (0 = none yet).</param>
public readonly record struct StreamPosition(ulong Epoch, ulong Offset);
