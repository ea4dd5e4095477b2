using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gateway.Protocol;

namespace Gateway.Client.Tests.Infrastructure;

/// <summary>
/// A gateway node as its own process (<c>dotnet gateway.dll</c>, the build copied next to the tests) on free
/// loopback ports, using the Redis engine, so that a test can kill it for real (SIGKILL by PID: the kernel
/// resets its sockets, nothing is flushed) or drain it. Killed at process exit if a test run ends early.
/// </summary>
public sealed class GatewayNode : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _log = new();
    private readonly HttpClient _http;
    private Process? _process;

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

    public int Pid => _process?.Id ?? throw new InvalidOperationException($"{NodeId} is not running.");

    /// <summary>Starts a node on <paramref name="redis"/> (host:port) and waits until <c>/health/ready</c> answers 200.</summary>
    public static async Task<GatewayNode> StartAsync(TestKeys keys, string nodeId, string redis, params string[] extraArgs)
    {
        var node = new GatewayNode(keys, nodeId, FreeLoopbackPort(), FreeLoopbackPort());
        await node.RunAsync(redis, extraArgs);
        return node;
    }

    /// <summary>Kills the process (SIGKILL by PID) and waits for it to be gone.</summary>
    public void Kill()
    {
        var process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }

        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }

        process.WaitForExit(10_000);
        process.Dispose();
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
        var dll = Path.Combine(AppContext.BaseDirectory, "gateway.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["DOTNET_NOLOGO"] = "1";
        string[] args =
        [
            dll,
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
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start.");
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                var log = string.Join('\n', _log);
                Kill();
                throw new InvalidOperationException($"Gateway node {NodeId} did not become ready:\n{log}");
            }

            try
            {
                using var response = await _http.GetAsync("/health/ready");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(50);
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        _log.Enqueue(line);
        while (_log.Count > 200)
        {
            _log.TryDequeue(out _);
        }
    }

    private void OnProcessExit(object? sender, EventArgs e) => Kill();

    internal static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
