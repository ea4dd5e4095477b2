using System.Globalization;
using System.Net;
using Gateway.Auth;
using Gateway.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Gateway.Configuration;

/// <summary>
/// Checks that span several settings or depend on the environment (time spans, key material,
/// production security). Every message names the setting and the allowed values, because this is
/// what an operator reads when the node refuses to start.
/// </summary>
public sealed class GatewayOptionsCrossValidator(IHostEnvironment environment) : IValidateOptions<GatewayOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();

        Range(failures, "Gateway:Auth:ClockSkew", options.Auth.ClockSkew, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        Range(failures, "Gateway:Connection:ConnectTimeout", options.Connection.ConnectTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        Range(failures, "Gateway:Connection:HeartbeatInterval", options.Connection.HeartbeatInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        Range(failures, "Gateway:Connection:IdleTimeout", options.Connection.IdleTimeout, TimeSpan.FromMilliseconds(200), TimeSpan.FromHours(1));
        if (options.Connection.FrameTimeout is { } frameTimeout)
        {
            Range(failures, "Gateway:Connection:FrameTimeout", frameTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromHours(1));
            if (frameTimeout > options.Connection.IdleTimeout)
            {
                failures.Add($"Gateway:Connection:FrameTimeout ({frameTimeout}) must not exceed Gateway:Connection:IdleTimeout ({options.Connection.IdleTimeout}): a frame that has begun gets no longer than a silent connection.");
            }
        }

        Range(failures, "Gateway:Connection:WriteStallTimeout", options.Connection.WriteStallTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));
        if (options.Connection.MaxWriteBytes is < 1024 or > 16 * 1024 * 1024)
        {
            failures.Add($"Gateway:Connection:MaxWriteBytes ({options.Connection.MaxWriteBytes}) must be between 1024 and 16777216 bytes.");
        }

        if (options.Connection.SendBufferBytes is not 0 and (< 4096 or > 64 * 1024 * 1024))
        {
            failures.Add($"Gateway:Connection:SendBufferBytes ({options.Connection.SendBufferBytes}) must be 0 (the operating system's default) or between 4096 and 67108864 bytes.");
        }

        Range(failures, "Gateway:Drain:Timeout", options.Drain.Timeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(30));
        Range(failures, "Gateway:Drain:ReconnectJitter", options.Drain.ReconnectJitter, TimeSpan.Zero, TimeSpan.FromMinutes(10));
        Range(failures, "Gateway:Http:IdempotencyTtl", options.Http.IdempotencyTtl, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7));
        Range(failures, "Gateway:Http:OversizedBodyDrainTimeout", options.Http.OversizedBodyDrainTimeout, TimeSpan.Zero, TimeSpan.FromMinutes(1));

        if (options.Engine.Replicas is < 1 or > 10_000)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"Gateway:Engine:Replicas is {options.Engine.Replicas} but must be between 1 and 10000 (the number of gateway nodes this deployment runs)."));
        }

        switch (options.Engine.Kind)
        {
            case "memory":
                // Each in-memory node has its own streams: publishes on one node never reach clients of another,
                // and clients that reconnect elsewhere cannot recover. Refuse rather than lose messages quietly.
                if (options.Engine.Replicas > 1)
                {
                    failures.Add(string.Create(CultureInfo.InvariantCulture, $"Gateway:Engine:Replicas is {options.Engine.Replicas} but Gateway:Engine:Kind is 'memory': the in-memory engine serves one node only (each node would keep its own topic streams, so messages published on one node never reach clients of another). Use the Redis engine (Gateway:Engine:Kind=redis and Gateway:Engine:Redis:Configuration) for more than one replica, or run one replica."));
                }

                break;
            case "redis":
                if (string.IsNullOrWhiteSpace(options.Engine.Redis.Configuration))
                {
                    failures.Add("Gateway:Engine:Redis:Configuration is required when Gateway:Engine:Kind is 'redis' (a StackExchange.Redis configuration string, e.g. '127.0.0.1:6379').");
                }

                if (options.Engine.Redis.KeyPrefix is null || options.Engine.Redis.KeyPrefix.AsSpan().IndexOfAny('{', '}') >= 0)
                {
                    failures.Add("Gateway:Engine:Redis:KeyPrefix must not contain '{' or '}' (keys use Redis Cluster hash tags).");
                }

                Range(failures, "Gateway:Engine:Redis:OperationTimeout", options.Engine.Redis.OperationTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(1));
                break;
            default:
                failures.Add($"Gateway:Engine:Kind must be 'memory' or 'redis' (was '{options.Engine.Kind}').");
                break;
        }

        if (options.WebSocket.Transport is not (WebSocketTransportOptions.Raw or WebSocketTransportOptions.AspNet))
        {
            failures.Add($"Gateway:WebSocket:Transport must be '{WebSocketTransportOptions.Raw}' (the gateway's own WebSocket server, default) or '{WebSocketTransportOptions.AspNet}' (ASP.NET Core's) (was '{options.WebSocket.Transport}').");
        }

        if (options.WebSocket.MaxMessageBytes is < 1024 or > 64 * 1024 * 1024)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"Gateway:WebSocket:MaxMessageBytes is {options.WebSocket.MaxMessageBytes} but must be between 1024 and 67108864 (64 MiB)."));
        }
        else if (options.WebSocket.MaxMessageBytes < options.Limits.MaxFrameLength + Protocol.ProtocolLimits.HeaderSize)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"Gateway:WebSocket:MaxMessageBytes ({options.WebSocket.MaxMessageBytes}) must be at least Gateway:Limits:MaxFrameLength + 6 ({options.Limits.MaxFrameLength + Protocol.ProtocolLimits.HeaderSize}), or a maximum-size frame could never be sent."));
        }

        if (options.Connection.IdleTimeout <= options.Connection.HeartbeatInterval)
        {
            failures.Add($"Gateway:Connection:IdleTimeout ({options.Connection.IdleTimeout}) must be greater than Gateway:Connection:HeartbeatInterval ({options.Connection.HeartbeatInterval}); 3x the interval is recommended, or every quiet client is cut off between two pings.");
        }

        if (options.Limits.FrameBurst < options.Limits.FramesPerSecond / 10)
        {
            failures.Add($"Gateway:Limits:FrameBurst ({options.Limits.FrameBurst}) must be at least Gateway:Limits:FramesPerSecond / 10 ({options.Limits.FramesPerSecond / 10}).");
        }

        if (options.Limits.ByteBurst < options.Limits.MaxFrameLength + Protocol.ProtocolLimits.HeaderSize)
        {
            failures.Add($"Gateway:Limits:ByteBurst ({options.Limits.ByteBurst}) must be at least Gateway:Limits:MaxFrameLength + 6 ({options.Limits.MaxFrameLength + Protocol.ProtocolLimits.HeaderSize}), or a maximum-size frame could never be accepted.");
        }

        if (options.Limits.MaxConnectionsPerIp > options.Limits.MaxConnections)
        {
            failures.Add($"Gateway:Limits:MaxConnectionsPerIp ({options.Limits.MaxConnectionsPerIp}) must not exceed Gateway:Limits:MaxConnections ({options.Limits.MaxConnections}).");
        }

        if (options.Tcp.Enabled)
        {
            ValidateTcp(failures, options.Tcp, environment);
        }

        var proxies = options.Http.ForwardedHeaders.KnownProxies;
        for (var i = 0; i < proxies.Count; i++)
        {
            if (!TrustedProxyOptions.TryParseProxy(proxies[i], out _))
            {
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"Gateway:Http:ForwardedHeaders:KnownProxies:{i} '{proxies[i]}' is not an IP address (10.0.0.5) or a CIDR network (10.0.0.0/8, fd00::/8; no bits set after the prefix)."));
            }
        }

        ValidateKeys(failures, options.Auth);

        var development = environment.IsDevelopment();
        if (!development && options.Auth.SigningKeys.Count == 0)
        {
            failures.Add($"Gateway:Auth:SigningKeys is empty: the {environment.EnvironmentName} environment refuses to start without a token signing key. Set Gateway__Auth__SigningKeys__0__Algorithm and __Secret (HS256, base64 >= 32 bytes) or __PublicKeyPem (RS256/ES256); only Development generates a dev key.");
        }

        if (!development && options.Auth.ApiKeys.Count == 0)
        {
            failures.Add($"Gateway:Auth:ApiKeys is empty: the {environment.EnvironmentName} environment refuses to start without an API key for the HTTP publish API. Set Gateway__Auth__ApiKeys__0__Name and __Sha256 (lowercase hex SHA-256 of the key); only Development generates a dev key.");
        }

        for (var i = 0; i < options.Auth.AllowedOrigins.Count; i++)
        {
            var origin = options.Auth.AllowedOrigins[i];
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.AbsolutePath != "/" || origin.EndsWith('/'))
            {
                failures.Add($"Gateway:Auth:AllowedOrigins:{i} '{origin}' is not an origin (scheme://host[:port], no path or trailing slash).");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidateTcp(List<string> failures, TcpOptions tcp, IHostEnvironment environment)
    {
        if (!KestrelEndpoints.TryParseBindAddress(tcp.BindAddress, out var address))
        {
            failures.Add($"Gateway:Tcp:BindAddress '{tcp.BindAddress}' is not an IP address, 'localhost' or '*'.");
            return;
        }

        if (tcp.Tls.Enabled)
        {
            try
            {
                using var certificate = TcpCertificate.Load(tcp.Tls);
            }
            catch (InvalidOperationException e)
            {
                failures.Add(e.Message);
            }

            return;
        }

        if (!string.IsNullOrWhiteSpace(tcp.Tls.KeyPath) || !string.IsNullOrEmpty(tcp.Tls.Password))
        {
            failures.Add("Gateway:Tcp:Tls:KeyPath or Gateway:Tcp:Tls:Password is set but Gateway:Tcp:Tls:CertificatePath is not: set the certificate too, or remove them (raw TCP would otherwise run without TLS).");
        }

        // Tokens and messages would cross the network in the clear: an operator has to say so.
        var loopback = address is not null && IPAddress.IsLoopback(address);
        if (!loopback && !tcp.AllowPlaintext && !environment.IsDevelopment())
        {
            failures.Add($"Gateway:Tcp:BindAddress '{tcp.BindAddress}' is not a loopback address and Gateway:Tcp:Tls:CertificatePath is not set: the {environment.EnvironmentName} environment refuses plaintext raw TCP on a reachable address. Set Gateway:Tcp:Tls:CertificatePath (and KeyPath/Password) for tcps://, bind Gateway:Tcp:BindAddress to 127.0.0.1, set Gateway:Tcp:Enabled=false, or set Gateway:Tcp:AllowPlaintext=true when TLS is terminated in front of the node or the network is private.");
        }
    }

    private static void ValidateKeys(List<string> failures, AuthOptions auth)
    {
        for (var i = 0; i < auth.SigningKeys.Count; i++)
        {
            var error = SigningKeys.Check(auth.SigningKeys[i]);
            if (error is not null)
            {
                failures.Add($"Gateway:Auth:SigningKeys:{i}: {error}");
            }
        }

        for (var i = 0; i < auth.ApiKeys.Count; i++)
        {
            var key = auth.ApiKeys[i];
            if (string.IsNullOrWhiteSpace(key.Name))
            {
                failures.Add($"Gateway:Auth:ApiKeys:{i}:Name is required (it identifies the caller in logs instead of the key).");
            }

            if (key.Sha256.Length != 64 || !key.Sha256.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f'))
            {
                failures.Add($"Gateway:Auth:ApiKeys:{i}:Sha256 must be the 64-character lowercase hex SHA-256 of the key (e.g. `printf %s KEY | sha256sum`).");
            }
        }
    }

    private static void Range(List<string> failures, string setting, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"{setting} is {value} but must be between {min} and {max}."));
        }
    }
}
