using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Gateway.Configuration;
using Gateway.Hosting;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gateway.Api;

/// <summary>The HTTP operations an idempotency key can guard; part of the request fingerprint.</summary>
public enum PublishOperation
{
    /// <summary><c>POST /api/v1/publish</c> and each <c>/api/v1/batch</c> item (the same operation).</summary>
    Publish,

    /// <summary><c>POST /api/v1/notify</c>.</summary>
    Notify,

    /// <summary><c>POST /api/v1/workflows/{id}</c>.</summary>
    Workflow,

    /// <summary><c>POST /api/v1/broadcast</c>.</summary>
    Broadcast,
}

/// <summary>
/// Idempotency keys of the HTTP API (docs/http-api.md, "Idempotency"). Keys are scoped per caller. The
/// first request with a key reserves it in the <see cref="IIdempotencyStore"/> with its fingerprint; a
/// later request with the same key and the same fingerprint gets the first result, one with a different
/// fingerprint is refused with <c>idempotency_conflict</c> (422), whether the first is done or in flight.
/// A duplicate that arrives while the first is in flight waits for it, then answers as above; if the first
/// failed (nothing was published, so nothing is remembered) the duplicate makes its own attempt.
/// </summary>
public sealed class IdempotencyCache
{
    /// <summary>How long an in-flight reservation lives: bounds the wait of duplicates if its node dies mid-publish.</summary>
    public static readonly TimeSpan ReservationLease = TimeSpan.FromSeconds(30);

    // Only for reservations held by another node (a shared store); local ones are awaited directly.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    private readonly IIdempotencyStore _store;
    private readonly ConcurrentDictionary<string, Task> _inFlight = new(StringComparer.Ordinal);
    private readonly TimeSpan _ttl;
    private readonly bool _enabled;
    private readonly TimeProvider _time;
    private readonly ILogger<IdempotencyCache> _logger;

    /// <summary>Creates the cache over <paramref name="store"/> with the TTL from <c>Gateway:Http</c>.</summary>
    public IdempotencyCache(IIdempotencyStore store, IOptions<GatewayOptions> options, TimeProvider time, ILogger<IdempotencyCache> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _ttl = options.Value.Http.IdempotencyTtl;
        _enabled = options.Value.Http.IdempotencyCapacity > 0;
        _time = time;
        _logger = logger;
    }

    /// <summary>
    /// The fingerprint of a publish: SHA-256 (lowercase hex) over the caller, the operation, the topic, the
    /// priority and the payload bytes, each length-prefixed. It is what the request does, not how its JSON
    /// is spelled: member order, whitespace outside the payload, or an explicit default priority do not change it.
    /// </summary>
    public static string Fingerprint(string caller, PublishOperation operation, string topic, Priority priority, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(topic);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        AppendField(hash, "archmesh.idempotency.v1"u8);
        AppendField(hash, Encoding.UTF8.GetBytes(caller));
        AppendField(hash, [(byte)operation]);
        AppendField(hash, Encoding.UTF8.GetBytes(topic));
        AppendField(hash, [(byte)priority]);
        AppendField(hash, payload);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// Runs <paramref name="publish"/> at most once per caller and key within the TTL (successes only) and
    /// returns its result, or <c>idempotency_conflict</c> when the key was used with another fingerprint.
    /// Without a key (or with the cache disabled) it just runs <paramref name="publish"/>.
    /// </summary>
    public async Task<ApiOutcome> GetOrRunAsync(string caller, string? key, string fingerprint, Func<Task<ApiOutcome>> publish, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(fingerprint);
        ArgumentNullException.ThrowIfNull(publish);
        if (string.IsNullOrEmpty(key) || !_enabled)
        {
            return await publish().ConfigureAwait(false);
        }

        var id = string.Concat(caller, "\n", key);
        while (true)
        {
            var reservation = Guid.NewGuid().ToString("N");
            IdempotencyRecord? existing;
            try
            {
                existing = await _store.TryAddAsync(id, new IdempotencyRecord(fingerprint, reservation, null), ReservationLease, cancellationToken).ConfigureAwait(false);
            }
            catch (IdempotencyStoreUnavailableException e)
            {
                // Never publish without the key: the caller retries (with the same key) once the store is back.
                GatewayLog.IdempotencyStoreUnavailable(_logger, e, caller);
                return ApiOutcome.Fail(ErrorCode.EngineUnavailable, $"Idempotency key '{key}' could not be reserved: the shared key store (the scale-out engine) is unreachable; nothing was published. Retry with the same key.");
            }

            if (existing is null)
            {
                return await RunAsync(id, reservation, fingerprint, publish).ConfigureAwait(false);
            }

            if (!string.Equals(existing.Fingerprint, fingerprint, StringComparison.Ordinal))
            {
                GatewayLog.IdempotencyConflict(_logger, caller);
                return ApiOutcome.Fail(ErrorCode.IdempotencyConflict, $"Idempotency key '{key}' was already used by this caller with a different request (operation, topic, priority or payload) within Gateway:Http:IdempotencyTtl; nothing was published. Use a new key for a new message.");
            }

            if (existing.Result is { } result)
            {
                return new ApiOutcome(result, null);
            }

            // The same request is in flight: wait for its end, then look again (its result, or a free key if it failed).
            if (_inFlight.TryGetValue(id, out var local))
            {
                await local.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await Task.Delay(PollInterval, _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<ApiOutcome> RunAsync(string id, string reservation, string fingerprint, Func<Task<ApiOutcome>> publish)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _inFlight[id] = done.Task;
        var remembered = false;
        try
        {
            var outcome = await publish().ConfigureAwait(false);
            if (outcome.Response is { } response)
            {
                // The store is updated before waiters are woken, so they find the result (or a free key).
                remembered = true;
                try
                {
                    await _store.CompleteAsync(id, reservation, new IdempotencyRecord(fingerprint, reservation, response), _ttl).ConfigureAwait(false);
                }
                catch (IdempotencyStoreUnavailableException e)
                {
                    // Published all the same, so the caller gets its position; the reservation stays until its lease ends.
                    GatewayLog.IdempotencyResultNotStored(_logger, e, ReservationLease.TotalSeconds);
                }
            }

            return outcome;
        }
        finally
        {
            if (!remembered)
            {
                // Only successes are remembered: a failed attempt (e.g. overloaded) may be retried with the key.
                try
                {
                    await _store.ReleaseAsync(id, reservation).ConfigureAwait(false);
                }
                catch (IdempotencyStoreUnavailableException e)
                {
                    GatewayLog.IdempotencyReleaseFailed(_logger, e, ReservationLease.TotalSeconds);
                }
            }

            _inFlight.TryRemove(new KeyValuePair<string, Task>(id, done.Task));
            done.SetResult();
        }
    }

    private static void AppendField(IncrementalHash hash, ReadOnlySpan<byte> field)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, field.Length);
        hash.AppendData(length);
        hash.AppendData(field);
    }
}
