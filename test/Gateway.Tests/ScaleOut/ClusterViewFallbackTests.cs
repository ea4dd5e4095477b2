using System.Text.Json;
using Gateway.Dispatch.Tests.Engines.Redis;
using Gateway.Tests.Infrastructure;
using Gateway.Tests.Operations;

namespace Gateway.Tests.ScaleOut;

/// <summary>
/// <c>/api/v1/stats/cluster</c> when there is no shared view: the in-memory engine (this node is the cluster) and a
/// Redis that is down (200, this node's own figures, <c>clusterView: "unavailable"</c> and the reason).
/// </summary>
public sealed class ClusterViewFallbackTests
{
    [Fact]
    public async Task With_the_in_memory_engine_the_view_is_this_node_alone()
    {
        await using var server = await GatewayServer.StartAsync();
        var (client, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("solo"));
        await using var _c = client;

        var view = await OpsTestEnvironment.EventuallyAsync<object>(
            async () =>
            {
                var v = await ClusterViewTests.ReadViewAsync(server);
                return v.GetProperty("totals").GetProperty("connections").GetInt64() == 1 ? v : null;
            },
            TimeSpan.FromSeconds(30),
            "the connected client in the local view");
        var json = (JsonElement)view;
        Assert.Equal("local", json.GetProperty("clusterView").GetString());
        var node = Assert.Single(json.GetProperty("nodes").EnumerateArray());
        Assert.Equal("test-node", node.GetProperty("node").GetString());
        Assert.Equal("in-memory", node.GetProperty("engine").GetString());
        Assert.True(node.GetProperty("self").GetBoolean());
        Assert.Equal(1, node.GetProperty("connections").GetInt64());
    }

    [Fact]
    public async Task With_redis_down_the_endpoint_answers_this_node_with_the_view_unavailable_and_recovers()
    {
        await using var redis = new RedisServer();
        await redis.InitializeAsync();
        await using var a = await GatewayServer.StartAsync(ClusterViewTests.Cluster.NodeSettings("node-a", redis.Configuration));
        await using var b = await GatewayServer.StartAsync(ClusterViewTests.Cluster.NodeSettings("node-b", redis.Configuration));
        await WaitForAsync(a, v => v.GetProperty("clusterView").GetString() == "redis" && ClusterViewTests.Node(v, "node-b") is not null);

        redis.Stop();
        // The node notices the loss on its connection; until then a read fails and says so too.
        var down = await WaitForAsync(a, v => v.GetProperty("clusterView").GetString() == "unavailable"
            && v.GetProperty("nodes")[0].GetProperty("status").GetString() == "degraded");
        Assert.Contains("Redis", down.GetProperty("reason").GetString(), StringComparison.Ordinal);
        var self = Assert.Single(down.GetProperty("nodes").EnumerateArray());
        Assert.Equal("node-a", self.GetProperty("node").GetString());
        Assert.True(self.GetProperty("self").GetBoolean());
        Assert.Equal("degraded", self.GetProperty("status").GetString());
        Assert.False(self.GetProperty("engineAvailable").GetBoolean());

        // Redis back (empty: no persistence): both nodes publish again and the view is whole again.
        await redis.StartAsync();
        await WaitForAsync(a, v => v.GetProperty("clusterView").GetString() == "redis"
            && ClusterViewTests.Node(v, "node-b") is { } n && n.GetProperty("live").GetBoolean());
    }

    private static async Task<JsonElement> WaitForAsync(GatewayServer node, Func<JsonElement, bool> condition) =>
        (JsonElement)await OpsTestEnvironment.EventuallyAsync<object>(
            async () =>
            {
                var v = await ClusterViewTests.ReadViewAsync(node);
                return condition(v) ? v : null;
            },
            TimeSpan.FromSeconds(60),
            "the cluster view to match");
}
