using System.Net;
using Gateway.Configuration;

namespace Gateway.Transport.WebSockets;

/// <summary>
/// The client address of a raw WebSocket upgrade behind trusted proxies: the same rule as ASP.NET Core's forwarded
/// headers middleware as the gateway configures it (<see cref="Hosting.ForwardedClientAddress"/>, X-Forwarded-For only,
/// no forward limit): while the current address is a listed proxy, step to the next <c>X-Forwarded-For</c> entry from
/// the right; stop at the first address that is not a listed proxy or at an entry that does not parse.
/// </summary>
internal sealed class ForwardedFor
{
    private readonly List<IPNetwork> _proxies = [];

    /// <summary>Reads the proxies of <c>Gateway:Http:ForwardedHeaders:KnownProxies</c> (unparsable ones stop the start elsewhere).</summary>
    public ForwardedFor(TrustedProxyOptions options)
    {
        foreach (var proxy in options.KnownProxies)
        {
            if (TrustedProxyOptions.TryParseProxy(proxy, out var network))
            {
                _proxies.Add(network);
            }
        }
    }

    /// <summary>Whether any proxy is trusted (otherwise <c>X-Forwarded-For</c> is ignored).</summary>
    public bool Enabled => _proxies.Count > 0;

    /// <summary>The client address for a request from <paramref name="remote"/> carrying <paramref name="forwardedFor"/> (comma-joined values).</summary>
    public IPAddress? Resolve(IPAddress? remote, string? forwardedFor)
    {
        if (!Enabled || string.IsNullOrEmpty(forwardedFor))
        {
            return remote;
        }

        var entries = forwardedFor.Split(',', StringSplitOptions.TrimEntries);
        var current = remote;
        for (var i = entries.Length - 1; i >= 0; i--)
        {
            if (current is not null && !IsTrusted(current))
            {
                break;
            }

            var entry = entries[i];
            if (entry.Length == 0)
            {
                continue;
            }

            if (IPEndPoint.TryParse(entry, out var endPoint))
            {
                current = endPoint.Address;
            }
            else
            {
                break;
            }
        }

        return current;
    }

    private bool IsTrusted(IPAddress address)
    {
        foreach (var network in _proxies)
        {
            if (network.Contains(address) || (address.IsIPv4MappedToIPv6 && network.Contains(address.MapToIPv4())))
            {
                return true;
            }
        }

        return false;
    }
}
