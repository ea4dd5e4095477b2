using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Gateway.Configuration;
using Gateway.Transport;
using Gateway.Transport.WebSockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Gateway.Hosting;

/// <summary>
/// Binds Kestrel: the HTTP/WebSocket listeners from the standard <c>urls</c> setting (default
/// <c>http://localhost:5080</c>) and the raw TCP listener from <c>Gateway:Tcp</c>. Kestrel ignores
/// <c>urls</c> once any endpoint is configured in code, so the URLs are parsed and bound here. The raw TCP listener
/// uses Kestrel's TLS middleware when <c>Gateway:Tcp:Tls:CertificatePath</c> is set (<c>tcps://</c>).
/// Keeps the listen options so the bound (possibly ephemeral) ports can be read after start.
/// </summary>
public sealed class KestrelEndpoints : IDisposable
{
    /// <summary>HTTP URL used when neither <c>--urls</c> nor <c>ASPNETCORE_URLS</c> is set.</summary>
    public const string DefaultUrl = "http://localhost:5080";

    private readonly List<ListenOptions> _http = [];
    private ListenOptions? _tcp;
    private readonly List<ListenOptions> _management = [];
    private Lazy<X509Certificate2>? _tcpCertificate;

    /// <summary>The HTTP listeners' endpoints (bound ports once started).</summary>
    public IReadOnlyList<IPEndPoint> HttpEndPoints => [.. _http.Select(l => l.IPEndPoint).OfType<IPEndPoint>()];

    /// <summary>The raw TCP endpoint (bound port once started), null when disabled.</summary>
    public IPEndPoint? TcpEndPoint => _tcp?.IPEndPoint;

    /// <summary>The management listeners' endpoints (<c>Gateway:Management:Urls</c>; bound ports once started), empty when none.</summary>
    public IReadOnlyList<IPEndPoint> ManagementEndPoints => [.. _management.Select(l => l.IPEndPoint).OfType<IPEndPoint>()];

    /// <summary>Whether the raw TCP endpoint speaks TLS (<c>tcps://</c>).</summary>
    public bool TcpUsesTls => _tcpCertificate is not null;

    /// <inheritdoc />
    public void Dispose()
    {
        if (_tcpCertificate is { IsValueCreated: true } certificate)
        {
            certificate.Value.Dispose();
        }
    }

    /// <summary>Parses <c>*</c>, <c>+</c>, <c>0.0.0.0</c>, <c>localhost</c> or an IP address; null address = any, loopback = localhost.</summary>
    public static bool TryParseBindAddress(string? value, out IPAddress? address)
    {
        address = null;
        switch (value)
        {
            case null or "":
                return false;
            case "*" or "+" or "0.0.0.0" or "::" or "[::]":
                return true;
            case "localhost":
                address = IPAddress.Loopback;
                return true;
            default:
                return IPAddress.TryParse(value.Trim('[', ']'), out address);
        }
    }

    /// <summary>
    /// The HTTP URLs to bind, from the standard settings in ASP.NET Core's order: <c>urls</c>
    /// (<c>--urls</c>, <c>ASPNETCORE_URLS</c>), else <c>http_ports</c>/<c>https_ports</c>
    /// (<c>ASPNETCORE_HTTP_PORTS</c>, set by the official container images) on every address; null means
    /// <see cref="DefaultUrl"/>.
    /// </summary>
    public static string? ResolveUrls(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var urls = configuration[WebHostDefaults.ServerUrlsKey];
        if (!string.IsNullOrWhiteSpace(urls))
        {
            return urls;
        }

        var ports = new List<string>();
        foreach (var (key, scheme) in new[] { (WebHostDefaults.HttpPortsKey, "http"), (WebHostDefaults.HttpsPortsKey, "https") })
        {
            foreach (var port in (configuration[key] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                ports.Add($"{scheme}://*:{port}");
            }
        }

        return ports.Count == 0 ? null : string.Join(';', ports);
    }

    internal void Configure(KestrelServerOptions kestrel, string? urls, TcpOptions tcp, WebSocketTransportOptions? webSocket = null)
    {
        var raw = webSocket?.IsRaw ?? true;
        foreach (var url in (string.IsNullOrWhiteSpace(urls) ? DefaultUrl : urls).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var (host, port, https) = ParseUrl(url);
            Listen(kestrel, host, port, options =>
            {
                if (https)
                {
                    options.UseHttps();
                }

                if (raw)
                {
                    options.UseRawWebSockets(kestrel.Limits.RequestHeadersTimeout); // after TLS: it reads the plaintext
                }

                _http.Add(options);
            });
        }

        if (tcp.Enabled)
        {
            // Loaded at the first handshake: Kestrel is configured when the app is built, before the options are
            // validated at start (GatewayOptionsCrossValidator loads it then, so a bad certificate stops the node first).
            var tls = tcp.Tls;
            _tcpCertificate = tls.Enabled ? new Lazy<X509Certificate2>(() => TcpCertificate.Load(tls)) : null;
            var handshakeTimeout = kestrel.ApplicationServices.GetService<IOptions<GatewayOptions>>()?.Value.Connection.ConnectTimeout ?? TimeSpan.FromSeconds(10);
            Listen(kestrel, tcp.BindAddress, tcp.Port, options =>
            {
                options.Protocols = HttpProtocols.None;
                if (_tcpCertificate is { } certificate)
                {
                    // Kestrel's TLS middleware wraps the transport; the handler then speaks the protocol over SslStream.
                    TcpTlsGate.Use(options, handshakeTimeout);
                    options.UseHttps(new HttpsConnectionAdapterOptions
                    {
                        ServerCertificateSelector = (_, _) => certificate.Value,
                        ClientCertificateMode = ClientCertificateMode.NoCertificate,
                        HandshakeTimeout = handshakeTimeout,
                    });
                }

                options.UseConnectionHandler<TcpConnectionHandler>();
                _tcp = options;
            });
        }
    }

    /// <summary>
    /// Binds the management listener (<c>Gateway:Management:Urls</c>): its connections carry
    /// <see cref="Api.ManagementConnectionFeature"/>, which routes the operations endpoints there (Api.ManagementListener).
    /// </summary>
    internal void ConfigureManagement(KestrelServerOptions kestrel, string? urls)
    {
        foreach (var url in (urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var (host, port, https) = ParseUrl(url);
            Listen(kestrel, host, port, options =>
            {
                if (https)
                {
                    options.UseHttps();
                }

                options.Use(next => connection =>
                {
                    connection.Features.Set(Api.ManagementConnectionFeature.Instance);
                    return next(connection);
                });
                _management.Add(options);
            });
        }
    }

    private static void Listen(KestrelServerOptions kestrel, string host, int port, Action<ListenOptions> configure)
    {
        if (host == "localhost")
        {
            // Only loopback: with port 0 Kestrel cannot bind both families to one port, so use IPv4 then.
            if (port == 0)
            {
                kestrel.Listen(IPAddress.Loopback, 0, configure);
            }
            else
            {
                kestrel.ListenLocalhost(port, configure);
            }

            return;
        }

        if (!TryParseBindAddress(host, out var address))
        {
            throw new InvalidOperationException($"Cannot bind '{host}': use an IP address, 'localhost' or '*'.");
        }

        if (address is null)
        {
            kestrel.ListenAnyIP(port, configure);
        }
        else
        {
            kestrel.Listen(address, port, configure);
        }
    }

    private static (string Host, int Port, bool Https) ParseUrl(string url)
    {
        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            throw new InvalidOperationException($"URL '{url}' in urls/ASPNETCORE_URLS has no scheme (http:// or https://).");
        }

        var scheme = url[..schemeEnd].ToLowerInvariant();
        var rest = url[(schemeEnd + 3)..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            rest = rest[..slash];
        }

        var https = scheme switch
        {
            "http" => false,
            "https" => true,
            _ => throw new InvalidOperationException($"URL '{url}': scheme '{scheme}' is not supported (http or https)."),
        };
        var colon = rest.LastIndexOf(':');
        if (colon < 0 || rest.EndsWith(']'))
        {
            return (rest, https ? 443 : 80, https);
        }

        if (!int.TryParse(rest[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            throw new InvalidOperationException($"URL '{url}' has an invalid port.");
        }

        return (rest[..colon], port, https);
    }
}
