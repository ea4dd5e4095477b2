using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Gateway.Auth;
using Gateway.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Tests.Infrastructure;

/// <summary>
/// A real gateway (the same <see cref="GatewayApp"/> the executable runs) on 127.0.0.1 with an
/// ephemeral HTTP port and an ephemeral raw TCP port, a known HS256 signing key and API key, and
/// every log line captured. Environment "Testing": production rules apply (keys required, no dev keys).
/// Usage: <c>await using var server = await GatewayServer.StartAsync();</c>
/// </summary>
public sealed class GatewayServer : IAsyncDisposable
{
    /// <summary>The HS256 signing secret (base64 of 32 known bytes).</summary>
    public static readonly string SigningSecret = Convert.ToBase64String(Encoding.ASCII.GetBytes("archmesh-test-signing-key-32byte"));

    /// <summary>The API key accepted by the HTTP API (X-Api-Key).</summary>
    public const string ApiKey = "test-api-key-7c1f0e2b9a";

    /// <summary>Token issuer.</summary>
    public const string Issuer = "archmesh";

    /// <summary>Token audience.</summary>
    public const string Audience = "archmesh-gateway";

    /// <summary>The browser origin on the allowlist.</summary>
    public const string AllowedOrigin = "https://app.example.com";

    private readonly CapturingLoggerProvider _logs;

    private GatewayServer(WebApplication app, CapturingLoggerProvider logs)
    {
        App = app;
        _logs = logs;
        var endpoints = app.Services.GetRequiredService<KestrelEndpoints>();
        var http = endpoints.HttpEndPoints[0];
        HttpAddress = new Uri($"http://{http.Address}:{http.Port}/");
        WebSocketUri = new Uri($"ws://{http.Address}:{http.Port}/ws");
        TcpEndPoint = endpoints.TcpEndPoint;
    }

    /// <summary>The running application.</summary>
    public WebApplication App { get; }

    /// <summary>Root of the HTTP API (http://127.0.0.1:port/).</summary>
    public Uri HttpAddress { get; }

    /// <summary>The WebSocket endpoint (ws://127.0.0.1:port/ws).</summary>
    public Uri WebSocketUri { get; }

    /// <summary>The raw TCP endpoint (null when disabled).</summary>
    public IPEndPoint? TcpEndPoint { get; }

    /// <summary>Every log line so far ("Level Category: message [exception]").</summary>
    public IReadOnlyList<string> LogLines => _logs.Lines;

    /// <summary>Default settings of a test server; <see cref="StartAsync"/> overrides them key by key.</summary>
    public static Dictionary<string, string?> DefaultSettings() => new()
    {
        ["urls"] = "http://127.0.0.1:0",
        ["Gateway:NodeId"] = "test-node",
        ["Gateway:Tcp:Enabled"] = "true",
        ["Gateway:Tcp:Port"] = "0",
        ["Gateway:Tcp:BindAddress"] = "127.0.0.1",
        ["Gateway:Auth:Issuer"] = Issuer,
        ["Gateway:Auth:Audience"] = Audience,
        ["Gateway:Auth:SigningKeys:0:Id"] = "test",
        ["Gateway:Auth:SigningKeys:0:Algorithm"] = "HS256",
        ["Gateway:Auth:SigningKeys:0:Secret"] = SigningSecret,
        ["Gateway:Auth:ApiKeys:0:Name"] = "tests",
        ["Gateway:Auth:ApiKeys:0:Sha256"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(ApiKey))),
        ["Gateway:Auth:AllowedOrigins:0"] = AllowedOrigin,
        ["Gateway:Dispatch:WorkerCount"] = "2",
        ["Gateway:Drain:Timeout"] = "00:00:10",
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Gateway"] = "Debug",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
    };

    /// <summary>Starts a server.</summary>
    /// <param name="settings">Configuration overriding <see cref="DefaultSettings"/> (a null value removes a default).</param>
    /// <param name="environment">Host environment (default "Testing").</param>
    /// <param name="configure">Extra builder changes.</param>
    public static async Task<GatewayServer> StartAsync(IReadOnlyDictionary<string, string?>? settings = null, string environment = "Testing", Action<WebApplicationBuilder>? configure = null)
    {
        var app = Build(settings, environment, configure, out var logs);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await app.StartAsync(timeout.Token);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return new GatewayServer(app, logs);
    }

    /// <summary>Builds (without starting) an app with the test settings, for start-up failure tests.</summary>
    public static WebApplication Build(IReadOnlyDictionary<string, string?>? settings, string environment, Action<WebApplicationBuilder>? configure, out CapturingLoggerProvider logs)
    {
        var merged = DefaultSettings();
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                merged.Remove(key);
            }
            else
            {
                merged[key] = value;
            }
        }

        var provider = new CapturingLoggerProvider();
        logs = provider;
        return GatewayApp.Build(["--environment", environment], builder =>
        {
            builder.Configuration.AddInMemoryCollection(merged);
            builder.Logging.AddProvider(provider);
            configure?.Invoke(builder);
        });
    }

    /// <summary>Mints a token signed with the test key.</summary>
    public static string MintToken(string user, IEnumerable<string>? subscribe = null, IEnumerable<string>? publish = null, TimeSpan? lifetime = null) =>
        TokenMinter.Mint(Convert.FromBase64String(SigningSecret), Issuer, Audience, user, subscribe, publish, lifetime ?? TimeSpan.FromHours(1), "test");

    /// <summary>An HttpClient for the HTTP API, with the API key unless <paramref name="withApiKey"/> is false.</summary>
    public HttpClient CreateHttpClient(bool withApiKey = true)
    {
        var client = new HttpClient { BaseAddress = HttpAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (withApiKey)
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", ApiKey);
        }

        client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return client;
    }

    /// <summary>A service of the running app.</summary>
    public T GetRequiredService<T>()
        where T : notnull => App.Services.GetRequiredService<T>();

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await App.StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
        }

        await App.DisposeAsync();
    }
}
