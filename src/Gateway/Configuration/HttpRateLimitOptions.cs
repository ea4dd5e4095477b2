using System.ComponentModel.DataAnnotations;

namespace Gateway.Configuration;

/// <summary>
/// <c>Gateway:Http:RateLimit</c>: the per-caller rate limit of the HTTP publish API (ASP.NET Core's rate limiter, a
/// token bucket per authenticated caller: API key name or publisher token subject). Over it: 429 <c>rate_limited</c>
/// with <c>Retry-After</c>. The defaults are far above what one backend normally sends, so they only stop a runaway
/// caller from starving the others; lower them to what your backends need.
/// </summary>
public sealed class HttpRateLimitOptions
{
    /// <summary>Whether the limit applies (false: no limit, e.g. for benchmarks).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Requests per second each caller may sustain (a batch or frames body counts as one request).</summary>
    [Range(1, 10_000_000)]
    public int RequestsPerSecond { get; set; } = 10_000;

    /// <summary>Requests a caller may send at once above the sustained rate (the bucket's size).</summary>
    [Range(1, 10_000_000)]
    public int Burst { get; set; } = 20_000;
}
