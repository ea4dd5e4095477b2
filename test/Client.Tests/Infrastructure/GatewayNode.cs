using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gateway.Protocol;
using Gateway.Tests.Shared;

namespace Gateway.Client.Tests.Infrastructure;

/// <summary>
/// A gateway node as its own process (<c>dotnet gateway.dll</c>, the build copied next to the tests) on loopback
/// ports (free ones, or where a balancer expects it), using the Redis engine, so that a test can kill it for real (SIGKILL by PID: the kernel
/// resets its sockets, nothing is flushed) or drain it. Killed at process exit if a test run ends early.
/// </summary>
public sealed class GatewayNode : IAsyncDisposable
{
    private readonly HttpClient _http;
    private ServerProcess? _process;

    private GatewayNode(TestKeys keys, string nodeId, int httpPort, int tcpPort)
    {
        Keys = keys;
        NodeId = nodeId;
        HttpPort = httpPort;
        TcpPort = tcpPort;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };
        _http.DefaultRequestHeaders.Add("X-Api-Key", keys.ApiKey);
    }

    public TestKeys Keys { get; }

    public string NodeId { get; }

    public int HttpPort { get; }

    public int TcpPort { get; }

    public int Pid => _process?.Pid ?? throw new InvalidOperationException($"{NodeId} is not running.");

    /// <summary>
    /// Starts a node on <paramref name="redis"/> (host:port) on <paramref name="httpPort"/>/<paramref name="tcpPort"/>
    /// and waits until <c>/health/ready</c> answers 200.
    /// </summary>
    public static async Task<GatewayNode> StartAsync(TestKeys keys, string nodeId, string redis, int httpPort, int tcpPort, params string[] extraArgs)
    {
        var node = new GatewayNode(keys, nodeId, httpPort, tcpPort);
        await node.RunAsync(redis, extraArgs);
        return node;
    }

    /// <summary>Kills the process (SIGKILL by PID) and waits for it to be gone.</summary>
    public void Kill()
    {
        _process?.Dispose();
        _process = null;
    }

    /// <summary>Starts a graceful drain (GoAway to every client, <c>/health/ready</c> fails).</summary>
    public async Task DrainAsync() => (await _http.PostAsJsonAsync("/api/v1/admin/drain", new { })).EnsureSuccessStatusCode();

    /// <summary>Publishes through the HTTP API; returns the acknowledged position.</summary>
    public Task<StreamPosition> PublishAsync(string topic, string text) => PostForPositionAsync("/api/v1/publish", new { topic, payload = text });

    /// <summary>Sends a notification to <paramref name="user"/> through the HTTP API; returns its position.</summary>
    public Task<StreamPosition> NotifyAsync(string user, string text) => PostForPositionAsync("/api/v1/notify", new { user, payload = text });

    public async ValueTask DisposeAsync()
    {
        Kill();
        _http.Dispose();
        await Task.CompletedTask;
    }

    /// <inheritdoc />
    public override string ToString() => $"{NodeId} (http {HttpPort}, tcp {TcpPort})";

    private async Task<StreamPosition> PostForPositionAsync(string path, object body)
    {
        using var response = await _http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path} on {NodeId} answered {(int)response.StatusCode}: {text}");
        var json = JsonDocument.Parse(text).RootElement;
        return new StreamPosition(json.GetProperty("epoch").GetUInt64(), json.GetProperty("offset").GetUInt64());
    }

    private async Task RunAsync(string redis, string[] extraArgs)
    {
        string[] args =
        [
            Path.Combine(AppContext.BaseDirectory, "gateway.dll"),
            $"--urls=http://127.0.0.1:{HttpPort}",
            "--Gateway:NodeId=" + NodeId,
            "--Gateway:Tcp:Enabled=true",
            $"--Gateway:Tcp:Port={TcpPort}",
            "--Gateway:Tcp:BindAddress=127.0.0.1",
            "--Gateway:Engine:Kind=redis",
            "--Gateway:Engine:Redis:Configuration=" + redis,
            "--Gateway:Engine:Redis:OperationTimeout=00:00:02",
            "--Gateway:Auth:SigningKeys:0:Id=test",
            "--Gateway:Auth:SigningKeys:0:Algorithm=HS256",
            "--Gateway:Auth:SigningKeys:0:Secret=" + Convert.ToBase64String(Keys.Secret),
            "--Gateway:Auth:ApiKeys:0:Name=test",
            "--Gateway:Auth:ApiKeys:0:Sha256=" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Keys.ApiKey))),
            "--Serilog:MinimumLevel:Default=Warning",
            "--Logging:LogLevel:Default=Warning",
            .. extraArgs,
        ];
        _process = ServerProcess.Start(
            "dotnet",
            args,
            "the .NET SDK is required",
            new Dictionary<string, string> { ["ASPNETCORE_ENVIRONMENT"] = "Production", ["DOTNET_NOLOGO"] = "1" });
        await _process.WaitUntilReadyAsync(
            async () =>
            {
                using var response = await _http.GetAsync("/health/ready");
                return response.StatusCode == HttpStatusCode.OK;
            },
            TimeSpan.FromSeconds(60),
            $"node {NodeId}: /health/ready");
    }
}
