using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Gateway.Dispatch.Tests.Engines.Redis;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;
using Gateway.Tests.Operations;
using Gateway.Tests.ScaleOut;
using Gateway.Tests.Shared;
using Xunit.Abstractions;

namespace Gateway.Tests.Cluster;

/// <summary>
/// Issue 12: deploy/haproxy/haproxy.cfg.template as rendered by deploy/local/cluster.sh, checked by
/// <c>haproxy -c</c> and run for real in front of two gateway nodes (real Kestrel, real redis-server, real
/// haproxy, ClientWebSocket and TcpClient through it): a degraded node leaves the rotation, every node
/// degraded still routes, a draining node leaves the rotation.
/// </summary>
public sealed class HaproxyTests(ITestOutputHelper output)
{
    private static readonly TimeSpan CheckDeadline = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task The_rendered_template_is_valid_and_has_every_node_in_every_backend()
    {
        var ports = HaproxyProcess.ClusterPorts.Free(3);
        var config = await HaproxyProcess.RenderAsync(3, ports);
        var path = Path.Combine(Directory.CreateTempSubdirectory("archmesh-haproxy-check-").FullName, "haproxy.cfg");
        await File.WriteAllTextAsync(path, config);

        var (exitCode, checkOutput) = await HaproxyProcess.CheckAsync(path);
        Assert.True(exitCode == 0, "haproxy -c rejected the rendered template:\n" + checkOutput);
        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);

        // Every placeholder outside comments was substituted.
        Assert.DoesNotContain(config.Split('\n'), l => !l.TrimStart().StartsWith('#') && l.Contains('@', StringComparison.Ordinal));
        Assert.Contains($"bind 127.0.0.1:{ports.LbHttp}", config);
        Assert.Contains($"bind 127.0.0.1:{ports.LbTcp}", config);
        Assert.Contains($"bind 127.0.0.1:{ports.LbStats}", config);
        for (var i = 1; i <= 3; i++)
        {
            // Twice each: the Healthy-only backend and the fallback one.
            Assert.Equal(2, Count(config, $"server node-{i} 127.0.0.1:{ports.NodeHttp(i)} check\n"));
            Assert.Equal(2, Count(config, $"server node-{i} 127.0.0.1:{ports.NodeTcp(i)} check port {ports.NodeHttp(i)}\n"));
        }

        // maxconn keeps 2 fds per proxied connection within the process's file limit.
        var maxconn = int.Parse(config.Split('\n').First(l => l.Trim().StartsWith("maxconn ", StringComparison.Ordinal)).Trim()["maxconn ".Length..]);
        Assert.InRange(maxconn, 100, 100_000);
    }

    [Fact]
    public async Task Degraded_and_draining_nodes_leave_the_rotation_and_an_all_degraded_cluster_is_still_served()
    {
        var ports = HaproxyProcess.ClusterPorts.Free(2);

        // Each node on its own Redis, so one node can lose its engine while the other keeps it (a shared
        // Redis takes every node down at once, which is step 3).
        await using var redis1 = new Lifetime<RedisServer>(new RedisServer());
        await using var redis2 = new Lifetime<RedisServer>(new RedisServer());
        await redis1.Value.InitializeAsync();
        await redis2.Value.InitializeAsync();
        await using var node1 = await GatewayServer.StartAsync(NodeSettings("node-1", redis1.Value, ports, 1));
        await using var node2 = await GatewayServer.StartAsync(NodeSettings("node-2", redis2.Value, ports, 2));
        await using var haproxy = await HaproxyProcess.StartAsync(2, ports);
        using var http = new HttpClient { BaseAddress = haproxy.HttpAddress, Timeout = TimeSpan.FromSeconds(5) };

        // 1. Both Healthy: in the rotation; WebSocket and raw TCP clients connect through HAProxy.
        await WaitForStatesAsync(haproxy, ("be_ready/node-1", "UP"), ("be_ready/node-2", "UP"), ("be_tcp_ready/node-1", "UP"), ("be_tcp_ready/node-2", "UP"));
        var token = GatewayServer.MintToken("lb-user");
        var (ws, wsConnected) = await TestClient.ConnectAsync(await TestClient.OpenWebSocketAsync(haproxy.WebSocketUri), token);
        await using (ws)
        {
            Assert.Contains(wsConnected.Text2, new[] { "node-1", "node-2" });
        }

        var (tcp, tcpConnected) = await TestClient.ConnectAsync(await TestClient.OpenTcpAsync(haproxy.TcpEndPoint), token);
        await using (tcp)
        {
            Assert.Contains(tcpConnected.Text2, new[] { "node-1", "node-2" });
        }

        // 2. node-2 loses its Redis: Degraded (200 + X-Health-Status: Degraded) → out of the Healthy backends;
        //    every new request and connection goes to node-1.
        redis2.Value.Stop();
        await WaitForStatesAsync(haproxy, ("be_ready/node-2", "DOWN"), ("be_tcp_ready/node-2", "DOWN"), ("be_ready/node-1", "UP"));
        using (var direct = await node2.CreateHttpClient(withApiKey: false).GetAsync("health/ready"))
        {
            Assert.Equal(HttpStatusCode.OK, direct.StatusCode);
            Assert.Equal("Degraded", Assert.Single(direct.Headers.GetValues("X-Health-Status")));
        }

        for (var n = 0; n < 6; n++)
        {
            Assert.Equal("node-1", await ReadyNodeThroughLbAsync(http, "Healthy"));
        }

        var (ws1, ws1Connected) = await TestClient.ConnectAsync(await TestClient.OpenWebSocketAsync(haproxy.WebSocketUri), token);
        await using (ws1)
        {
            Assert.Equal("node-1", ws1Connected.Text2);
        }

        // 3. node-1 loses its Redis too: no Healthy node, so HAProxy falls back to the nodes that are ready
        //    apart from their engine instead of refusing everyone (a Redis outage must not become a total one).
        redis1.Value.Stop();
        await WaitForStatesAsync(haproxy, ("be_ready/node-1", "DOWN"), ("be_ready/node-2", "DOWN"), ("be_serving/node-1", "UP"), ("be_serving/node-2", "UP"));
        Assert.Contains(await ReadyNodeThroughLbAsync(http, "Degraded"), new[] { "node-1", "node-2" });
        var (ws2, ws2Connected) = await TestClient.ConnectAsync(await TestClient.OpenWebSocketAsync(haproxy.WebSocketUri), token);
        await using (ws2)
        {
            Assert.Contains(ws2Connected.Text2, new[] { "node-1", "node-2" });
        }

        var (tcp2, _) = await TestClient.ConnectAsync(await TestClient.OpenTcpAsync(haproxy.TcpEndPoint), token);
        await tcp2.DisposeAsync();

        // 4. node-1 drains (what SIGTERM does): 503 → out of the fallback too; node-2 takes every new client.
        using var admin = node1.CreateHttpClient();
        using (var drain = await admin.PostAsync("api/v1/admin/drain", null))
        {
            Assert.Equal(HttpStatusCode.Accepted, drain.StatusCode);
        }

        await WaitForStatesAsync(haproxy, ("be_serving/node-1", "DOWN"), ("be_tcp_serving/node-1", "DOWN"), ("be_serving/node-2", "UP"));
        for (var n = 0; n < 4; n++)
        {
            Assert.Equal("node-2", await ReadyNodeThroughLbAsync(http, "Degraded"));
        }

        var (ws3, ws3Connected) = await TestClient.ConnectAsync(await TestClient.OpenWebSocketAsync(haproxy.WebSocketUri), token);
        await using (ws3)
        {
            Assert.Equal("node-2", ws3Connected.Text2);
        }

        var (tcp3, tcp3Connected) = await TestClient.ConnectAsync(await TestClient.OpenTcpAsync(haproxy.TcpEndPoint), token);
        await using (tcp3)
        {
            Assert.Equal(FrameKind.Connected, tcp3Connected.Kind);
            Assert.Equal("node-2", tcp3Connected.Text2);
        }
    }

    private static Dictionary<string, string?> NodeSettings(string nodeId, RedisServer redis, HaproxyProcess.ClusterPorts ports, int i)
    {
        var settings = ClusterTests.Cluster.NodeSettings(nodeId, redis.Configuration);
        settings["urls"] = $"http://127.0.0.1:{ports.NodeHttp(i)}";
        settings["Gateway:Tcp:Port"] = ports.NodeTcp(i).ToString();
        return settings;
    }

    /// <summary>GET /health/ready through HAProxy: the answering node, after checking the status and header.</summary>
    private static async Task<string> ReadyNodeThroughLbAsync(HttpClient http, string expectedStatus)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "health/ready");
        request.Headers.ConnectionClose = true;
        request.Headers.CacheControl = new CacheControlHeaderValue { NoCache = true };
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expectedStatus, Assert.Single(response.Headers.GetValues("X-Health-Status")));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("node").GetString()!;
    }

    private async Task WaitForStatesAsync(HaproxyProcess haproxy, params (string Server, string State)[] expected)
    {
        var states = await OpsTestEnvironment.EventuallyAsync(
            async () =>
            {
                var current = await haproxy.ServerStatesAsync();
                return expected.All(e => current.TryGetValue(e.Server, out var s) && s == e.State) ? current : null;
            },
            CheckDeadline,
            "HAProxy server states " + string.Join(", ", expected.Select(e => $"{e.Server}={e.State}")));
        output.WriteLine(string.Join(" ", states.OrderBy(s => s.Key).Select(s => $"{s.Key}={s.Value}")));
    }

    private static int Count(string text, string value)
    {
        var count = 0;
        for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    /// <summary>Disposes a fixture at the end of a test whatever happens in between.</summary>
    private sealed class Lifetime<T>(T value) : IAsyncDisposable
        where T : IAsyncLifetime
    {
        public T Value { get; } = value;

        public async ValueTask DisposeAsync() => await Value.DisposeAsync();
    }
}
