using System.Collections.Concurrent;
using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Api;

/// <summary>
/// Node-local <see cref="IIdempotencyStore"/>: a concurrent map with per-record expiry, bounded by
/// <c>Gateway:Http:IdempotencyCapacity</c> (beyond it, expired records go first, then the completed
/// ones closest to expiry; in-flight reservations are never evicted, or a duplicate could run twice).
/// </summary>
public sealed class InMemoryIdempotencyStore : IIdempotencyStore
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly int _capacity;
    private readonly TimeProvider _time;

    /// <summary>Creates the store with the capacity from <c>Gateway:Http:IdempotencyCapacity</c>.</summary>
    public InMemoryIdempotencyStore(IOptions<GatewayOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _capacity = options.Value.Http.IdempotencyCapacity;
        _time = time;
    }

    /// <summary>Records currently held (live or not yet evicted).</summary>
    public int Count => _entries.Count;

    /// <inheritdoc />
    public ValueTask<IdempotencyRecord?> TryAddAsync(string key, IdempotencyRecord record, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        var now = _time.GetUtcNow();
        var entry = new Entry(record, now + ttl);
        while (true)
        {
            if (_entries.TryGetValue(key, out var existing))
            {
                if (existing.ExpiresAt > now)
                {
                    return ValueTask.FromResult<IdempotencyRecord?>(existing.Record);
                }

                _entries.TryRemove(new KeyValuePair<string, Entry>(key, existing));
                continue;
            }

            if (_entries.Count >= _capacity)
            {
                Evict(now);
            }

            if (_entries.TryAdd(key, entry))
            {
                return ValueTask.FromResult<IdempotencyRecord?>(null);
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<bool> CompleteAsync(string key, string reservation, IdempotencyRecord record, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        var completed = _entries.TryGetValue(key, out var existing)
            && existing.Record.Reservation == reservation
            && _entries.TryUpdate(key, new Entry(record, _time.GetUtcNow() + ttl), existing);
        return ValueTask.FromResult(completed);
    }

    /// <inheritdoc />
    public ValueTask ReleaseAsync(string key, string reservation, CancellationToken cancellationToken = default)
    {
        if (_entries.TryGetValue(key, out var existing) && existing.Record.Reservation == reservation)
        {
            _entries.TryRemove(new KeyValuePair<string, Entry>(key, existing));
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<IdempotencyRecord?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_entries.TryGetValue(key, out var entry) && entry.ExpiresAt > _time.GetUtcNow() ? entry.Record : null);

    private void Evict(DateTimeOffset now)
    {
        foreach (var pair in _entries)
        {
            if (pair.Value.ExpiresAt <= now)
            {
                _entries.TryRemove(pair);
            }
        }

        // Still full: forget the completed records closest to expiry (the oldest), a tenth at a time.
        if (_entries.Count >= _capacity)
        {
            foreach (var pair in _entries.Where(p => !p.Value.Record.IsPending).OrderBy(p => p.Value.ExpiresAt).Take(Math.Max(1, _capacity / 10)).ToList())
            {
                _entries.TryRemove(pair);
            }
        }
    }

    private sealed record Entry(IdempotencyRecord Record, DateTimeOffset ExpiresAt);
}
