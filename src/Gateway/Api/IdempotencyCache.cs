using System.Collections.Concurrent;
using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Api;

/// <summary>
/// Remembers the first result of each idempotency key (per caller) for a TTL, bounded in count.
/// Concurrent duplicates share the first attempt. Only successes are remembered: a failed attempt
/// (e.g. overloaded, retryable) can be repeated with the same key.
/// </summary>
public sealed class IdempotencyCache
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly TimeSpan _ttl;
    private readonly int _capacity;
    private readonly TimeProvider _time;

    /// <summary>Creates the cache from <c>Gateway:Http</c>.</summary>
    public IdempotencyCache(IOptions<GatewayOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _ttl = options.Value.Http.IdempotencyTtl;
        _capacity = options.Value.Http.IdempotencyCapacity;
        _time = time;
    }

    /// <summary>Keys currently remembered.</summary>
    public int Count => _entries.Count;

    /// <summary>Runs <paramref name="publish"/> once per key within the TTL and returns its (first) result.</summary>
    public async Task<ApiOutcome> GetOrRunAsync(string caller, string? key, Func<Task<ApiOutcome>> publish)
    {
        ArgumentNullException.ThrowIfNull(publish);
        if (string.IsNullOrEmpty(key) || _capacity == 0)
        {
            return await publish().ConfigureAwait(false);
        }

        var now = _time.GetUtcNow();
        var id = string.Concat(caller, "\n", key);
        while (true)
        {
            if (_entries.TryGetValue(id, out var existing))
            {
                if (existing.ExpiresAt > now)
                {
                    return await existing.Result.ConfigureAwait(false);
                }

                _entries.TryRemove(new KeyValuePair<string, Entry>(id, existing));
                continue;
            }

            if (_entries.Count >= _capacity)
            {
                Evict(now);
            }

            var completion = new TaskCompletionSource<ApiOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
            var entry = new Entry(completion.Task, now + _ttl);
            if (!_entries.TryAdd(id, entry))
            {
                continue;
            }

            ApiOutcome outcome;
            try
            {
                outcome = await publish().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _entries.TryRemove(new KeyValuePair<string, Entry>(id, entry));
                completion.SetException(e);
                throw;
            }

            if (outcome.Error is not null)
            {
                _entries.TryRemove(new KeyValuePair<string, Entry>(id, entry));
            }

            completion.SetResult(outcome);
            return outcome;
        }
    }

    private void Evict(DateTimeOffset now)
    {
        foreach (var pair in _entries)
        {
            if (pair.Value.ExpiresAt <= now)
            {
                _entries.TryRemove(pair);
            }
        }

        // Still full: forget the entries closest to expiry (the oldest), a tenth at a time.
        if (_entries.Count >= _capacity)
        {
            foreach (var pair in _entries.OrderBy(p => p.Value.ExpiresAt).Take(Math.Max(1, _capacity / 10)).ToList())
            {
                _entries.TryRemove(pair);
            }
        }
    }

    private sealed record Entry(Task<ApiOutcome> Result, DateTimeOffset ExpiresAt);
}
