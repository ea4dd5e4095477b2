using Gateway.Dispatch.Tests.Engines.Redis;
using Gateway.Tests.Shared;

namespace Gateway.Client.Tests.Infrastructure;

/// <summary>
/// A cluster in a box for failover tests: one real redis-server, two gateway node processes sharing it
/// (one epoch/offset sequence per topic, pending notifications in Redis) and a real HAProxy in front, configured
/// exactly as deploy/local/cluster.sh configures it (the rendered production template: readiness checks with the
/// Healthy/Degraded header, redispatch, leastconn).
/// </summary>
public sealed class FailoverCluster : IAsyncDisposable
{
    private readonly RedisServer _redis;

    private FailoverCluster(RedisServer redis, TestKeys keys, GatewayNode a, GatewayNode b, HaproxyProcess balancer)
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

    public HaproxyProcess Balancer { get; }

    /// <summary>Starts Redis, both nodes (in parallel) with <paramref name="nodeArgs"/>, then HAProxy.</summary>
    public static async Task<FailoverCluster> StartAsync(params string[] nodeArgs)
    {
        var redis = new RedisServer();
        await redis.InitializeAsync();
        var keys = TestKeys.Create();
        var ports = HaproxyProcess.ClusterPorts.Free(2);
        var a = GatewayNode.StartAsync(keys, "node-a", redis.Configuration, ports.NodeHttp(1), ports.NodeTcp(1), nodeArgs);
        var b = GatewayNode.StartAsync(keys, "node-b", redis.Configuration, ports.NodeHttp(2), ports.NodeTcp(2), nodeArgs);
        try
        {
            await Task.WhenAll(a, b);
            var balancer = await HaproxyProcess.StartAsync(2, ports);
            await WaitUntilInRotationAsync(balancer);
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

    /// <summary>Waits until HAProxy's health checks put both nodes in the Healthy backends (HTTP and TCP) (they start unchecked).</summary>
    private static async Task WaitUntilInRotationAsync(HaproxyProcess balancer)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var states = await balancer.ServerStatesAsync();
            if (states.Count(s => (s.Key.StartsWith("be_ready/", StringComparison.Ordinal) || s.Key.StartsWith("be_tcp_ready/", StringComparison.Ordinal)) && s.Value == "UP") == 4)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                await balancer.DisposeAsync();
                throw new InvalidOperationException("HAProxy did not put both nodes in rotation: " + string.Join(", ", states.Select(s => $"{s.Key}={s.Value}")));
            }

            await Task.Delay(100);
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
