using System.Text.Json;
using Gateway.Dispatch.Engines.Redis;
using Gateway.Protocol;

namespace Gateway.Api;

/// <summary>
/// Cluster-wide <see cref="IIdempotencyStore"/> on the Redis engine's <see cref="RedisStreamStore"/>: every node sees
/// the same keys, so a duplicate sent to another node is answered from the first result. A key lives in Redis as
/// <c>{KeyPrefix}idem:http:{caller}\n{key}</c>; its value carries the <see cref="IdempotencyRecord"/> as JSON (the
/// store's opaque "fingerprint" bytes), so the comparisons the store makes on that value compare the reservation:
/// <list type="bullet">
/// <item><see cref="TryAddAsync"/> = <see cref="RedisStreamStore.TryBeginIdempotentAsync"/> (set if absent, with the lease as expiry);</item>
/// <item><see cref="CompleteAsync"/> = <see cref="RedisStreamStore.CompleteIdempotentAsync(string, ReadOnlyMemory{byte}, StreamPosition, ReadOnlyMemory{byte}, TimeSpan)"/>
/// (replaces this reservation's value, or stores it when the lease expired and nobody took the key);</item>
/// <item><see cref="ReleaseAsync"/> = <see cref="RedisStreamStore.AbandonIdempotentAsync"/> (deletes only this reservation);</item>
/// <item><see cref="GetAsync"/> = <see cref="RedisStreamStore.GetIdempotentAsync"/>.</item>
/// </list>
/// Redis unreachable: every operation throws <see cref="IdempotencyStoreUnavailableException"/>.
/// </summary>
public sealed class RedisIdempotencyStore : IIdempotencyStore
{
    private const string Namespace = "http:";
    private readonly RedisStreamStore _store;

    /// <summary>Creates the store over the engine's Redis store.</summary>
    public RedisIdempotencyStore(RedisStreamStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
    }

    /// <inheritdoc />
    public async ValueTask<IdempotencyRecord?> TryAddAsync(string key, IdempotencyRecord record, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        var begun = await CallAsync(() => _store.TryBeginIdempotentAsync(Namespace + key, Held(record.Fingerprint, record.Reservation), ttl)).ConfigureAwait(false);
        return begun.State == IdempotencyState.Started ? null : Read(begun);
    }

    /// <inheritdoc />
    public async ValueTask<bool> CompleteAsync(string key, string reservation, IdempotencyRecord record, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.Result is not { } result)
        {
            throw new ArgumentException("A completed record carries its result.", nameof(record));
        }

        var completed = JsonSerializer.SerializeToUtf8Bytes(record with { Reservation = reservation }, GatewayJsonContext.Default.IdempotencyRecord);
        return await CallAsync(() => _store.CompleteIdempotentAsync(
            Namespace + key,
            Held(record.Fingerprint, reservation),
            new StreamPosition(result.Epoch, result.Offset),
            completed,
            ttl)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask ReleaseAsync(string key, string reservation, CancellationToken cancellationToken = default)
    {
        // The held value names the fingerprint too, which is not passed here: read it (one more round trip, failures only).
        var current = await CallAsync(() => _store.GetIdempotentAsync(Namespace + key)).ConfigureAwait(false);
        if (current is { State: IdempotencyState.InFlight } held && Read(held) is { } record && record.Reservation == reservation)
        {
            await CallAsync(() => _store.AbandonIdempotentAsync(Namespace + key, Held(record.Fingerprint, reservation))).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask<IdempotencyRecord?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var current = await CallAsync(() => _store.GetIdempotentAsync(Namespace + key)).ConfigureAwait(false);
        return current is { } value ? Read(value) : null;
    }

    // The exact value of an in-flight reservation: Complete and Abandon compare it byte for byte.
    private static byte[] Held(string fingerprint, string reservation) =>
        JsonSerializer.SerializeToUtf8Bytes(new IdempotencyRecord(fingerprint, reservation, null), GatewayJsonContext.Default.IdempotencyRecord);

    private static IdempotencyRecord Read(IdempotencyBegin value)
    {
        try
        {
            return JsonSerializer.Deserialize(value.Fingerprint.Span, GatewayJsonContext.Default.IdempotencyRecord)
                ?? throw new InvalidDataException("An idempotency record in Redis is null.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException("An idempotency record in Redis is not a record of the HTTP API.", e);
        }
    }

    private static async Task<T> CallAsync<T>(Func<Task<T>> operation)
    {
        try
        {
            return await operation().ConfigureAwait(false);
        }
        catch (RedisStoreUnavailableException e)
        {
            throw new IdempotencyStoreUnavailableException("Redis (shared idempotency keys) is unreachable: " + e.Message, e);
        }
    }
}
