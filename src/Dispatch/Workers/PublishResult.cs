using Gateway.Protocol.Errors;

namespace Gateway.Dispatch;

/// <summary>Outcome of <see cref="Dispatcher.PublishAsync"/>: an error, or the assigned stream position.</summary>
/// <param name="Error"><see cref="ErrorCode.None"/> when accepted.</param>
/// <param name="Epoch">The topic's epoch (0 on error).</param>
/// <param name="Offset">The assigned offset (0 on error).</param>
public readonly record struct PublishResult(ErrorCode Error, ulong Epoch, ulong Offset);
