using Gateway.Api.Models;

namespace Gateway.Api;

/// <summary>
/// What an idempotency store keeps under one key: small and serializable (source-generated JSON in
/// <see cref="GatewayJsonContext"/>), so a shared store (Redis) can hold it as one value.
/// </summary>
/// <param name="Fingerprint">SHA-256 (hex) of the canonical request the key was first used with (<see cref="IdempotencyCache.Fingerprint"/>).</param>
/// <param name="Reservation">Unique id of the attempt that reserved the key, so only that attempt completes or releases it.</param>
/// <param name="Result">The published position once the attempt succeeded; null while it is in flight.</param>
public sealed record IdempotencyRecord(string Fingerprint, string Reservation, PublishResponse? Result)
{
    /// <summary>Whether the first attempt is still in flight.</summary>
    public bool IsPending => Result is null;
}
