using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Gateway.Configuration;

/// <summary><c>Gateway:Http</c>: the HTTP publish API and the HTTP listener.</summary>
public sealed class HttpApiOptions
{
    /// <summary>
    /// Proxies whose <c>X-Forwarded-For</c> names the client (for the per-address cap and logs on <c>/ws</c>
    /// and the API). None by default: the header is ignored.
    /// </summary>
    public TrustedProxyOptions ForwardedHeaders { get; set; } = new();

    /// <summary>
    /// Largest request body (bytes) of the routes that take several messages (<c>/api/v1/publish</c>, JSON or
    /// frames, and <c>/api/v1/batch</c>); larger bodies get 413.
    /// </summary>
    [Range(1024, 256 * 1024 * 1024)]
    public int MaxRequestBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Largest request body (bytes) of the single-message routes (<c>/api/v1/notify</c>, <c>/api/v1/workflows/{id}</c>,
    /// <c>/api/v1/broadcast</c>); larger bodies get 413. 1 MiB holds the largest frame (64 KiB) many times over,
    /// even base64-encoded.
    /// </summary>
    [Range(1024, 256 * 1024 * 1024)]
    public int MaxMessageBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Per-caller rate limit.</summary>
    [ValidateObjectMembers]
    public HttpRateLimitOptions RateLimit { get; set; } = new();

    /// <summary>Refusals (401, 403, 413, 429, ...) are logged at most once per caller per this interval, with a count.</summary>
    public TimeSpan RefusalLogInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// After refusing a body as too large (413), at most this many more bytes of it are read and discarded
    /// so that a client still sending it can read the answer; beyond that the connection is closed (reset).
    /// 0 closes at once.
    /// </summary>
    [Range(0, 1024 * 1024 * 1024)]
    public int OversizedBodyDrainBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>How long an oversized body is drained at most after its 413 (see <see cref="OversizedBodyDrainBytes"/>).</summary>
    public TimeSpan OversizedBodyDrainTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Largest number of messages in one batch request.</summary>
    [Range(1, 100_000)]
    public int MaxBatchMessages { get; set; } = 1_000;

    /// <summary>How long an idempotency key remembers its first result.</summary>
    public TimeSpan IdempotencyTtl { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Idempotency keys remembered at most (oldest forgotten first beyond that).</summary>
    [Range(0, 10_000_000)]
    public int IdempotencyCapacity { get; set; } = 100_000;
}
