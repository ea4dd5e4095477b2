namespace Gateway.Api;

/// <summary>
/// Where idempotency records live: node-local (<see cref="InMemoryIdempotencyStore"/>) or, later, shared
/// across nodes. Every operation is a single atomic step on one key, so it maps onto Redis directly:
/// <see cref="TryAddAsync"/> is <c>SET key value NX PX ttl</c> (plus <c>GET</c> when it fails),
/// <see cref="CompleteAsync"/> and <see cref="ReleaseAsync"/> are compare-the-reservation scripts, and
/// expiry is the key's TTL.
/// </summary>
public interface IIdempotencyStore
{
    /// <summary>Stores <paramref name="record"/> unless the key holds a live record.</summary>
    /// <returns>Null when stored (the caller now owns the key), otherwise the record already there.</returns>
    ValueTask<IdempotencyRecord?> TryAddAsync(string key, IdempotencyRecord record, TimeSpan ttl, CancellationToken cancellationToken = default);

    /// <summary>Replaces the key's record with <paramref name="record"/> if it still holds the reservation <paramref name="reservation"/>.</summary>
    /// <returns>False when the reservation was lost (expired, possibly taken by another attempt).</returns>
    ValueTask<bool> CompleteAsync(string key, string reservation, IdempotencyRecord record, TimeSpan ttl, CancellationToken cancellationToken = default);

    /// <summary>Removes the key if it still holds the reservation <paramref name="reservation"/> (the attempt failed: the key may be used again).</summary>
    ValueTask ReleaseAsync(string key, string reservation, CancellationToken cancellationToken = default);

    /// <summary>The key's live record, or null.</summary>
    ValueTask<IdempotencyRecord?> GetAsync(string key, CancellationToken cancellationToken = default);
}
