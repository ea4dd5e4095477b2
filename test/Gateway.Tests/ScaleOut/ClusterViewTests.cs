using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gateway.Dispatch.Tests.Engines.Redis;
using Gateway.Tests.Infrastructure;
using Gateway.Tests.Operations;
using Gateway.Tests.Shared;

namespace Gateway.Tests.ScaleOut;

/// <summary>
/// Issue 12 item 6: every node of a cluster (real Kestrel nodes, and a real gateway process killed with SIGKILL)
/// on one real redis-server appears in <c>/api/v1/stats/cluster</c> of every other node, with its figures.
/// </summary>
public sealed class ClusterViewTests(ClusterViewTests.Cluster cluster) : IClassFixture<ClusterViewTests.Cluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Both_nodes_list_both_nodes_with_their_connection_counts_and_totals()
    {
        var (a1, _) = await TestClient.ConnectAsync(cluster.A, GatewayServer.MintToken("view-a1"));
        var (a2, _) = await TestClient.ConnectAsync(cluster.A, GatewayServer.MintToken("view-a2"), tcp: true);
        var (b1, _) = await TestClient.ConnectAsync(cluster.B, GatewayServer.MintToken("view-b1"));
        await using var _a1 = a1;
        await using var _a2 = a2;
        await using var _b1 = b1;

        foreach (var (reader, self) in new[] { (cluster.A, "node-a"), (cluster.B, "node-b") })
        {
            var view = await EventuallyAsync(reader, v =>
                Node(v, "node-a") is { } a && Node(v, "node-b") is { } b
                && a.GetProperty("connections").GetInt64() == 2 && b.GetProperty("connections").GetInt64() == 1);
            Assert.Equal("redis", view.GetProperty("clusterView").GetString());
            Assert.Equal(JsonValueKind.Null, view.GetProperty("reason").ValueKind);
            Assert.Equal(self, view.GetProperty("node").GetString());
            Assert.Equal(2, view.GetProperty("totalNodes").GetInt64());
            Assert.False(view.GetProperty("truncated").GetBoolean());
            var totals = view.GetProperty("totals");
            Assert.Equal(3, totals.GetProperty("connections").GetInt64());
            Assert.Equal(2, totals.GetProperty("live").GetInt32());
            Assert.Equal(0, totals.GetProperty("stale").GetInt32());
            Assert.Equal(2, totals.GetProperty("ready").GetInt32());

            var nodes = view.GetProperty("nodes").EnumerateArray().ToList();
            Assert.Equal(self, nodes[0].GetProperty("node").GetString()); // this node first, from its own figures
            Assert.True(nodes[0].GetProperty("self").GetBoolean());
            foreach (var node in nodes)
            {
                Assert.True(node.GetProperty("live").GetBoolean());
                Assert.Equal("ready", node.GetProperty("status").GetString());
                Assert.Equal("redis", node.GetProperty("engine").GetString());
                Assert.StartsWith("connected", node.GetProperty("engineState").GetString(), StringComparison.Ordinal);
                Assert.StartsWith(node.GetProperty("node").GetString() + "/", node.GetProperty("instance").GetString(), StringComparison.Ordinal);
                Assert.Equal(Environment.ProcessId, node.GetProperty("pid").GetInt32());
                Assert.False(string.IsNullOrEmpty(node.GetProperty("version").GetString()));
                Assert.True(node.GetProperty("ageSeconds").GetDouble() < 30);
                Assert.True(node.TryGetProperty("publishedPerSecond", out _));
                Assert.True(node.TryGetProperty("deliveriesPerSecond", out _));
            }
        }
    }

    [Fact]
    public async Task A_node_that_stops_cleanly_leaves_the_view_at_once()
    {
        var c = await GatewayServer.StartAsync(Cluster.NodeSettings("node-c", cluster.Redis.Configuration));
        try
        {
            await EventuallyAsync(cluster.A, v => Node(v, "node-c") is { } n && n.GetProperty("live").GetBoolean());
        }
        finally
        {
            await c.DisposeAsync();
        }

        // Removed on stop, not left to expire: gone well before a stale entry would be forgotten (5 min here).
        var view = await EventuallyAsync(cluster.A, v => Node(v, "node-c") is null);
        Assert.Equal(2, view.GetProperty("totalNodes").GetInt64());
    }

    [Fact]
    public async Task A_killed_node_is_shown_stale_once_its_summary_expires()
    {
        using var process = StartGatewayProcess("node-killed", cluster.Redis.Configuration);
        try
        {
            var live = await EventuallyAsync(cluster.A, v => Node(v, "node-killed") is { } n && n.GetProperty("live").GetBoolean(), TimeSpan.FromSeconds(120), process);
            Assert.Equal(process.Pid, Node(live, "node-killed")!.Value.GetProperty("pid").GetInt32());
        }
        finally
        {
            process.Kill(); // SIGKILL: no clean stop, the entry is left to expire
        }

        var killedAt = DateTimeOffset.UtcNow;
        var stale = await EventuallyAsync(cluster.A, v => Node(v, "node-killed") is { } n && !n.GetProperty("live").GetBoolean());
        var node = Node(stale, "node-killed")!.Value;
        Assert.Equal("stale", node.GetProperty("status").GetString());
        var lastSeen = node.GetProperty("lastSeen").GetDateTimeOffset();
        Assert.True(lastSeen <= killedAt.AddSeconds(1), $"last seen {lastSeen:O}, killed at {killedAt:O}");
        Assert.True(node.GetProperty("ageSeconds").GetDouble() >= stale.GetProperty("entryTtlSeconds").GetDouble() - 0.5);
        var totals = stale.GetProperty("totals");
        Assert.Equal(1, totals.GetProperty("stale").GetInt32());
        Assert.Equal(2, totals.GetProperty("live").GetInt32());
        Assert.Equal(0, (await EventuallyAsync(cluster.B, v => Node(v, "node-killed") is { } n && !n.GetProperty("live").GetBoolean()))
            .GetProperty("totals").GetProperty("connections").GetInt64());
    }

    internal static JsonElement? Node(JsonElement view, string node)
    {
        foreach (var n in view.GetProperty("nodes").EnumerateArray())
        {
            if (n.GetProperty("node").GetString() == node)
            {
                return n;
            }
        }

        return null;
    }

    internal static async Task<JsonElement> ReadViewAsync(GatewayServer node)
    {
        using var http = node.CreateHttpClient(withApiKey: false);
        using var response = await http.GetAsync("/api/v1/stats/cluster");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.Clone();
    }

    private static async Task<JsonElement> EventuallyAsync(GatewayServer reader, Func<JsonElement, bool> condition, TimeSpan? timeout = null, ServerProcess? process = null)
    {
        JsonElement? last = null;
        try
        {
            return (JsonElement)await OpsTestEnvironment.EventuallyAsync<object>(
                async () =>
                {
                    Assert.False(process?.HasExited ?? false, "the gateway process exited");
                    var view = await ReadViewAsync(reader);
                    last = view;
                    return condition(view) ? view : null;
                },
                timeout ?? Wait,
                "the cluster view to match");
        }
        catch (Exception ex) when (last is not null && ex is not Xunit.Sdk.XunitException { Message: "the gateway process exited" })
        {
            throw new Xunit.Sdk.XunitException($"{ex.Message}; last view: {last}");
        }
    }

    /// <summary>The real gateway executable on the Redis engine, publishing its summary every 200 ms.</summary>
    private static ServerProcess StartGatewayProcess(string nodeId, string redis) => ServerProcess.Start(
        "dotnet",
        [
            Path.Combine(AppContext.BaseDirectory, "gateway.dll"),
                "--urls", "http://127.0.0.1:0",
                "--Gateway:NodeId=" + nodeId,
                "--Gateway:Tcp:Port=0",
                "--Gateway:Tcp:BindAddress=127.0.0.1",
                "--Gateway:Engine:Kind=redis",
                "--Gateway:Engine:Redis:Configuration=" + redis,
                "--Gateway:Stats:ClusterInterval=00:00:00.200",
                "--Gateway:Auth:SigningKeys:0:Id=exe",
                "--Gateway:Auth:SigningKeys:0:Algorithm=HS256",
                "--Gateway:Auth:SigningKeys:0:Secret=" + GatewayServer.SigningSecret,
                "--Gateway:Auth:ApiKeys:0:Name=exe",
                "--Gateway:Auth:ApiKeys:0:Sha256=" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(GatewayServer.ApiKey))),
        ],
        "the .NET SDK is required",
        new Dictionary<string, string> { ["ASPNETCORE_ENVIRONMENT"] = "Production", ["DOTNET_ENVIRONMENT"] = "Production" });

    /// <summary>One redis-server and two gateway nodes publishing their summaries every 200 ms.</summary>
    public sealed class Cluster : IAsyncLifetime
    {
        private readonly RedisServer _redis = new();

        public GatewayServer A { get; private set; } = null!;

        public GatewayServer B { get; private set; } = null!;

        public RedisServer Redis => _redis;

        public static Dictionary<string, string?> NodeSettings(string nodeId, string redis)
        {
            var settings = ClusterTests.Cluster.NodeSettings(nodeId, redis);
            settings["Gateway:Stats:ClusterInterval"] = "00:00:00.200";
            settings["Gateway:Stats:ClusterForgetAfter"] = "00:05:00";
            settings["Gateway:Stats:SampleInterval"] = "00:00:00.200";
            return settings;
        }

        public async Task InitializeAsync()
        {
            await _redis.InitializeAsync();
            A = await GatewayServer.StartAsync(NodeSettings("node-a", _redis.Configuration));
            B = await GatewayServer.StartAsync(NodeSettings("node-b", _redis.Configuration));
        }

        public async Task DisposeAsync()
        {
            await B.DisposeAsync();
            await A.DisposeAsync();
            await _redis.DisposeAsync();
        }
    }
}
