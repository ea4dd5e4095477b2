using Gateway.Protocol;

namespace Gateway.Dispatch.Engines.Redis;

/// <summary>Result of <see cref="RedisStreamStore.TryBeginIdempotentAsync"/>.</summary>
/// <param name="State">Started (caller owns the key), in flight elsewhere, or completed.</param>
/// <param name="Fingerprint">
/// The fingerprint stored with the key by whoever holds or completed it (empty for <see cref="IdempotencyState.Started"/>).
/// A different fingerprint than the caller's means the key was reused for another request (a conflict).
/// </param>
/// <param name="Result">The completed request's position; default unless <see cref="IdempotencyState.Completed"/>.</param>
public readonly record struct IdempotencyBegin(IdempotencyState State, ReadOnlyMemory<byte> Fingerprint, StreamPosition Result)
{
    /// <summary>True when the stored fingerprint equals <paramref name="fingerprint"/> (always true for Started).</summary>
    public bool Matches(ReadOnlySpan<byte> fingerprint) => State == IdempotencyState.Started || Fingerprint.Span.SequenceEqual(fingerprint);
}
