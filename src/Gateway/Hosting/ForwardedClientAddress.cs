using Gateway.Configuration;
using Microsoft.AspNetCore.HttpOverrides;

namespace Gateway.Hosting;

/// <summary>
/// Replaces an HTTP request's remote address with the client named in <c>X-Forwarded-For</c> when the
/// request comes from a proxy listed in <c>Gateway:Http:ForwardedHeaders:KnownProxies</c>, so that the
/// per-address connection cap on <c>/ws</c>, refusals and request logs see clients, not the load balancer.
/// </summary>
public static class ForwardedClientAddress
{
    /// <summary>
    /// Adds ASP.NET Core's forwarded-headers middleware (X-Forwarded-For only) when proxies are configured;
    /// nothing otherwise. Must run before everything that reads <c>Connection.RemoteIpAddress</c>.
    /// </summary>
    /// <param name="app">The application being built.</param>
    public static void UseGatewayForwardedHeaders(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        // Bound from configuration rather than IOptions<GatewayOptions>.Value, which would validate every option
        // while the app is built; validation belongs to start-up (ValidateOnStart), with all its messages at once.
        var settings = new TrustedProxyOptions();
        app.Configuration.GetSection(GatewayOptions.SectionName).GetSection("Http:ForwardedHeaders").Bind(settings);
        var proxies = settings.KnownProxies;
        if (proxies.Count == 0)
        {
            return;
        }

        var options = new ForwardedHeadersOptions
        {
            // Only the client address: the node builds no links from Host or scheme, and X-Forwarded-Proto/Host
            // would be more to trust for nothing.
            ForwardedHeaders = ForwardedHeaders.XForwardedFor,
            // Unwrap every listed hop from the right (CDN -> load balancer -> HAProxy); the first address that is
            // not a listed proxy is the client. Entries left of it were written by the client and are ignored.
            ForwardLimit = null,
        };

        // The defaults trust loopback; only what the operator listed is trusted.
        options.KnownProxies.Clear();
        options.KnownIPNetworks.Clear();
        foreach (var proxy in proxies)
        {
            // An entry that does not parse stops the start (GatewayOptionsCrossValidator names it).
            if (TrustedProxyOptions.TryParseProxy(proxy, out var network))
            {
                options.KnownIPNetworks.Add(network);
            }
        }

        app.UseForwardedHeaders(options);
    }
}
