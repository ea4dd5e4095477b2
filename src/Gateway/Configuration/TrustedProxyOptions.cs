using System.Globalization;
using System.Net;

namespace Gateway.Configuration;

/// <summary>
/// <c>Gateway:Http:ForwardedHeaders</c>: which load balancers may tell the node the client's address in
/// <c>X-Forwarded-For</c>. Only HTTP requests (the publish API and <c>/ws</c>) carry the header; raw TCP
/// connections always count the address they come from (PROXY protocol is not supported).
/// </summary>
public sealed class TrustedProxyOptions
{
    /// <summary>
    /// Addresses (<c>10.0.0.5</c>) or networks in CIDR notation (<c>10.0.0.0/8</c>, <c>fd00::/8</c>) of the
    /// proxies whose <c>X-Forwarded-For</c> is believed. Empty (the default): the header is ignored, because
    /// anyone can send it and a believed forgery would dodge the per-address cap.
    /// </summary>
    public List<string> KnownProxies { get; set; } = [];

    /// <summary>Parses one <see cref="KnownProxies"/> entry: an address (a network of one) or a CIDR network.</summary>
    /// <param name="value">The entry.</param>
    /// <param name="network">The network it stands for.</param>
    /// <returns>Whether the entry is an IP address or a valid CIDR network.</returns>
    public static bool TryParseProxy(string? value, out IPNetwork network)
    {
        network = default;
        var text = value?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        if (!text.Contains('/', StringComparison.Ordinal))
        {
            if (!IPAddress.TryParse(text, out var address))
            {
                return false;
            }

            network = new IPNetwork(address, address.GetAddressBytes().Length * 8);
            return true;
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (!IPAddress.TryParse(text.AsSpan(0, slash), out var baseAddress)
            || !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var prefix)
            || prefix > baseAddress.GetAddressBytes().Length * 8
            || HasBitsAfterPrefix(baseAddress.GetAddressBytes(), prefix))
        {
            // Bits set after the prefix (10.0.0.1/8) are refused rather than masked: such an entry is a typo,
            // and guessing which network was meant could trust far more addresses than intended.
            return false;
        }

        network = new IPNetwork(baseAddress, prefix);
        return true;
    }

    private static bool HasBitsAfterPrefix(byte[] bytes, int prefix)
    {
        for (var bit = prefix; bit < bytes.Length * 8; bit++)
        {
            if ((bytes[bit / 8] & (0x80 >> (bit % 8))) != 0)
            {
                return true;
            }
        }

        return false;
    }
}
