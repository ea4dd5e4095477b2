using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Gateway.Auth;
using Gateway.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.Client.Tests.Infrastructure;

/// <summary>
/// The real gateway (GatewayApp, the executable's own entry) in-process on 127.0.0.1 with ephemeral
/// HTTP/WebSocket and TCP ports, a known HS256 key and API key. Gateways built from the same
/// <see cref="TestKeys"/> accept the same tokens (used to "restart" a node).
/// </summary>
public sealed class TestGateway : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly HttpClient _http;
    private bool _stopped;

    private TestGateway(WebApplication app, TestKeys keys, string nodeId, int httpPort, int tcpPort)
    {
        _app = app;
        Keys = keys;
        NodeId = nodeId;
        HttpPort = httpPort;
        TcpPort = tcpPort;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(60) };
        _http.DefaultRequestHeaders.Add("X-Api-Key", keys.ApiKey);
    }

    public TestKeys Keys { get; }

    public string NodeId { get; }

    public int HttpPort { get; }

    public int TcpPort { get; }

    public Uri WebSocketUri => new($"ws://127.0.0.1:{HttpPort}/ws");

    public Uri TcpUri => new($"tcp://127.0.0.1:{TcpPort}");

    public Uri EndpointFor(string transport) => transport == "tcp" ? TcpUri : WebSocketUri;

    public static async Task<TestGateway> StartAsync(TestKeys? keys = null, string nodeId = "node-test", params string[] extraArgs)
    {
        keys ??= TestKeys.Create();
        string[] args =
        [
            "--environment=Production",
            "--urls=http://127.0.0.1:0",
            "--Gateway:NodeId=" + nodeId,
            "--Gateway:Tcp:Enabled=true",
            "--Gateway:Tcp:Port=0",
            "--Gateway:Tcp:BindAddress=127.0.0.1",
            "--Gateway:Auth:SigningKeys:0:Id=test",
            "--Gateway:Auth:SigningKeys:0:Algorithm=HS256",
            "--Gateway:Auth:SigningKeys:0:Secret=" + Convert.ToBase64String(keys.Secret),
            "--Gateway:Auth:ApiKeys:0:Name=test",
            "--Gateway:Auth:ApiKeys:0:Sha256=" + Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(keys.ApiKey))),
            "--Serilog:MinimumLevel:Default=Warning",
            "--Logging:LogLevel:Default=Warning",
            .. extraArgs,
        ];
        var app = GatewayApp.Build(args, builder => builder.Logging.SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync();
        var endpoints = app.Services.GetRequiredService<KestrelEndpoints>();
        var http = endpoints.HttpEndPoints[0].Port;
        var tcp = endpoints.TcpEndPoint?.Port ?? throw new InvalidOperationException("The TCP listener is not bound.");
        return new TestGateway(app, keys, nodeId, http, tcp);
    }

    /// <summary>A token for <paramref name="user"/> with the given permissions, signed with the shared key.</summary>
    public string Token(string user, string[]? subscribe = null, string[]? publish = null, TimeSpan? lifetime = null) =>
        Keys.Token(user, subscribe, publish, lifetime);

    /// <summary>Options for one endpoint of this gateway, with test-friendly timeouts.</summary>
    public GatewayClientOptions Options(string transport, string token) => new()
    {
        Endpoints = [EndpointFor(transport)],
        Token = token,
        ClientName = "client-tests",
        Reconnect = new ReconnectPolicy { InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(500), FirstReconnectWindow = TimeSpan.FromMilliseconds(100) },
        RequestTimeout = TimeSpan.FromSeconds(60),
        ConnectTimeout = TimeSpan.FromSeconds(30),
    };

    /// <summary>POSTs JSON with the API key; returns the status and the JSON body.</summary>
    public async Task<(int Status, JsonElement Body)> PostAsync(string path, object body)
    {
        using var response = await _http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        var json = string.IsNullOrEmpty(text) ? default : JsonDocument.Parse(text).RootElement.Clone();
        return ((int)response.StatusCode, json);
    }

    /// <summary>POSTs and requires success; returns the JSON body.</summary>
    public async Task<JsonElement> PostOkAsync(string path, object body)
    {
        var (status, json) = await PostAsync(path, body);
        Assert.True(status is >= 200 and < 300, $"POST {path} answered {status}: {json}");
        return json;
    }

    /// <summary>Stops the node (graceful: drain, GoAway, close) and releases it.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _app.StopAsync(cts.Token);
        await _app.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _http.Dispose();
    }
}

/// <summary>The keys of a test deployment: HS256 secret and API key.</summary>
public sealed record TestKeys(byte[] Secret, string ApiKey)
{
    public static TestKeys Create() => new(RandomNumberGenerator.GetBytes(32), "test-api-key-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)));

    public string Token(string user, string[]? subscribe = null, string[]? publish = null, TimeSpan? lifetime = null) =>
        TokenMinter.Mint(Secret, "archmesh", "archmesh-gateway", user, subscribe ?? [], publish ?? [], lifetime ?? TimeSpan.FromHours(1), "test");
}
