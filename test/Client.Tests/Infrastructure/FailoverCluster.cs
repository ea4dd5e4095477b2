using Gateway.Dispatch.Tests.Engines.Redis;

namespace Gateway.Client.Tests.Infrastructure;

/// <summary>
/// A cluster in a box for failover tests: one real redis-server, two gateway node processes sharing it
/// (one epoch/offset sequence per topic, pending notifications in Redis) and a real HAProxy in front.
/// </summary>
public sealed class FailoverCluster : IAsyncDisposable
{
    private readonly RedisServer _redis;

    private FailoverCluster(RedisServer redis, TestKeys keys, GatewayNode a, GatewayNode b, HaproxyServer balancer)
    {
        _redis = redis;
        Keys = keys;
        A = a;
        B = b;
        Balancer = balancer;
    }

    public TestKeys Keys { get; }

    public GatewayNode A { get; }

    public GatewayNode B { get; }

    public HaproxyServer Balancer { get; }

    /// <summary>Starts Redis, both nodes (in parallel) with <paramref name="nodeArgs"/>, then HAProxy.</summary>
    public static async Task<FailoverCluster> StartAsync(params string[] nodeArgs)
    {
        var redis = new RedisServer();
        await redis.InitializeAsync();
        var keys = TestKeys.Create();
        var a = GatewayNode.StartAsync(keys, "node-a", redis.Configuration, nodeArgs);
        var b = GatewayNode.StartAsync(keys, "node-b", redis.Configuration, nodeArgs);
        try
        {
            await Task.WhenAll(a, b);
            var balancer = await HaproxyServer.StartAsync([a.Result, b.Result]);
            return new FailoverCluster(redis, keys, a.Result, b.Result, balancer);
        }
        catch
        {
            foreach (var node in new[] { a, b }.Where(t => t.IsCompletedSuccessfully))
            {
                await node.Result.DisposeAsync();
            }

            await redis.DisposeAsync();
            throw;
        }
    }

    /// <summary>The node with <paramref name="nodeId"/>.</summary>
    public GatewayNode Node(string nodeId) => nodeId == A.NodeId ? A : nodeId == B.NodeId ? B : throw new ArgumentException($"No node {nodeId}.", nameof(nodeId));

    /// <summary>The node that is not <paramref name="node"/>.</summary>
    public GatewayNode Other(GatewayNode node) => node == A ? B : A;

    /// <summary>Client options through the balancer: one endpoint, test-friendly timeouts.</summary>
    public GatewayClientOptions Options(string transport, string token) => new()
    {
        Endpoints = [Balancer.UriFor(transport)],
        Token = token,
        ClientName = "failover-tests",
        Reconnect = new ReconnectPolicy { InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(500), FirstReconnectWindow = TimeSpan.FromMilliseconds(200) },
        RequestTimeout = TimeSpan.FromSeconds(60),
        ConnectTimeout = TimeSpan.FromSeconds(10),
    };

    public async ValueTask DisposeAsync()
    {
        await Balancer.DisposeAsync();
        await A.DisposeAsync();
        await B.DisposeAsync();
        await _redis.DisposeAsync();
    }
}
