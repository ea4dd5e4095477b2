using Gateway.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Gateway.Auth;

/// <summary>
/// Browser origin allowlist checked before a WebSocket upgrade. Requests without an Origin header
/// are not from browsers (native clients, services) and are not subject to it; Development also
/// allows local pages on any port.
/// </summary>
public sealed class OriginPolicy(IOptions<GatewayOptions> options, IHostEnvironment environment)
{
    private readonly HashSet<string> _allowed = new(options.Value.Auth.AllowedOrigins, StringComparer.OrdinalIgnoreCase);
    private readonly bool _allowLocal = environment.IsDevelopment();

    /// <summary>Whether a request with this Origin header value may upgrade.</summary>
    public bool IsAllowed(string? origin)
    {
        if (string.IsNullOrEmpty(origin))
        {
            return true;
        }

        if (_allowed.Contains(origin))
        {
            return true;
        }

        return _allowLocal
            && Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && uri.Scheme is "http" or "https"
            && (uri.IsLoopback || uri.Host == "localhost");
    }
}
