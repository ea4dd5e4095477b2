using Gateway.Protocol.Errors;

namespace Gateway.Fuzz.Targets;

/// <summary>
/// How reading a byte stream ended: whole frames decoded, then either an error (<see cref="Error"/> set) or
/// "need more" / end of input with <see cref="Pending"/> bytes unconsumed.
/// </summary>
internal readonly record struct ReadOutcome(int Frames, ErrorCode Error, long Pending);
