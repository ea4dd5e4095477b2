using Gateway.Configuration;

namespace Gateway.Api;

/// <summary>
/// Endpoint metadata: the request body limit of a route, enforced by <see cref="RequestBody"/> (the only body limit
/// of the API: Kestrel's own is lifted for these routes, see <see cref="RequestBody"/> for why). A route without it
/// gets <see cref="Messages"/>.
/// </summary>
public sealed class RequestBodyLimit
{
    private readonly Func<HttpApiOptions, int> _limit;

    private RequestBodyLimit(string setting, Func<HttpApiOptions, int> limit)
    {
        Setting = setting;
        _limit = limit;
    }

    /// <summary>Routes taking several messages (<c>/publish</c>, <c>/batch</c>): <c>Gateway:Http:MaxRequestBodyBytes</c>.</summary>
    public static RequestBodyLimit Messages { get; } = new("Gateway:Http:MaxRequestBodyBytes", o => o.MaxRequestBodyBytes);

    /// <summary>Single-message routes (<c>/notify</c>, <c>/workflows/{id}</c>, <c>/broadcast</c>): <c>Gateway:Http:MaxMessageBodyBytes</c>.</summary>
    public static RequestBodyLimit SingleMessage { get; } = new("Gateway:Http:MaxMessageBodyBytes", o => o.MaxMessageBodyBytes);

    /// <summary>The setting holding the limit (named in the 413).</summary>
    public string Setting { get; }

    /// <summary>The limit in bytes.</summary>
    public int Bytes(HttpApiOptions options) => _limit(options);
}
