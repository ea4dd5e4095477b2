using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Gateway.Dispatch.Tests.Engines.Redis;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.ScaleOut;

/// <summary>
/// HTTP idempotency keys on the Redis engine are shared by every node (real Kestrel hosts on one real
/// redis-server): a duplicate sent to the other node gets the first result and publishes nothing, a different
/// request with the key is a conflict there too, and concurrent duplicates split across nodes publish once.
/// Each of these fails with the node-local store (every node would publish its own copy).
/// </summary>
public sealed class IdempotencyAcrossNodesTests(ClusterTests.Cluster cluster) : IClassFixture<ClusterTests.Cluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task The_same_key_on_A_then_on_B_returns_the_same_position_and_publishes_once()
    {
        const string topic = "team:idem-replay";
        await using var subscriber = await SubscribeAsync(cluster.B, topic);

        var first = await PublishAsync(cluster.A, topic, "once", "order-1001");
        Assert.Equal(HttpStatusCode.OK, first.Status);
        var again = await PublishAsync(cluster.B, topic, "once", "order-1001");
        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.Equal((first.Epoch, first.Offset), (again.Epoch, again.Offset));

        var seen = await ReceiveUntilEndAsync(subscriber, topic);
        Assert.Equal(["once"], seen);
    }

    [Fact]
    public async Task The_same_key_with_a_different_body_on_the_other_node_is_an_idempotency_conflict()
    {
        const string topic = "team:idem-conflict";
        await using var subscriber = await SubscribeAsync(cluster.A, topic);

        var first = await PublishAsync(cluster.A, topic, "original", "order-2002");
        Assert.Equal(HttpStatusCode.OK, first.Status);
        var other = await PublishAsync(cluster.B, topic, "changed", "order-2002");
        Assert.True(other.Status == HttpStatusCode.UnprocessableEntity, $"expected 422, got {(int)other.Status}: {other.Body}");
        var problem = JsonDocument.Parse(other.Body).RootElement;
        Assert.Equal("idempotency_conflict", problem.GetProperty("error").GetString());
        Assert.False(problem.GetProperty("retryable").GetBoolean());

        var seen = await ReceiveUntilEndAsync(subscriber, topic);
        Assert.Equal(["original"], seen);
    }

    [Fact]
    public async Task Concurrent_requests_with_one_key_split_across_both_nodes_publish_once()
    {
        const string topic = "team:idem-race";
        const int perNode = 8;
        await using var subscriber = await SubscribeAsync(cluster.A, topic);

        using var start = new ManualResetEventSlim();
        var requests = Enumerable.Range(0, 2 * perNode)
            .Select(i => Task.Run(async () =>
            {
                start.Wait();
                return await PublishAsync(i % 2 == 0 ? cluster.A : cluster.B, topic, "race", "order-3003");
            }))
            .ToList();
        start.Set();
        var results = await Task.WhenAll(requests);

        Assert.All(results, r => Assert.True(r.Status == HttpStatusCode.OK, $"got {(int)r.Status}: {r.Body}"));
        Assert.Single(results.Select(r => (r.Epoch, r.Offset)).Distinct());
        var seen = await ReceiveUntilEndAsync(subscriber, topic);
        Assert.Equal(["race"], seen);
    }

    [Fact]
    public async Task With_redis_down_a_request_with_a_key_is_refused_retryable_and_the_key_works_once_redis_is_back()
    {
        var redis = new RedisServer();
        await redis.InitializeAsync();
        try
        {
            await using var node = await GatewayServer.StartAsync(ClusterTests.Cluster.NodeSettings("idem-outage", redis.Configuration));
            await RefusedThenRetriedAsync(redis, node);
        }
        finally
        {
            await redis.DisposeAsync();
        }
    }

    private static async Task RefusedThenRetriedAsync(RedisServer redis, GatewayServer node)
    {
        const string topic = "team:idem-outage";

        redis.Stop();
        var refused = await PublishAsync(node, topic, "later", "order-4004");
        Assert.True(refused.Status == HttpStatusCode.ServiceUnavailable, $"expected 503, got {(int)refused.Status}: {refused.Body}");
        var problem = JsonDocument.Parse(refused.Body).RootElement;
        Assert.Equal("engine_unavailable", problem.GetProperty("error").GetString());
        Assert.True(problem.GetProperty("retryable").GetBoolean());

        // Redis back (empty): the refused attempt left nothing behind, so a retry with the key publishes, once.
        await redis.StartAsync();
        var deadline = DateTime.UtcNow + Wait;
        var retried = await PublishAsync(node, topic, "later", "order-4004");
        while (retried.Status == HttpStatusCode.ServiceUnavailable && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            retried = await PublishAsync(node, topic, "later", "order-4004");
        }

        Assert.True(retried.Status == HttpStatusCode.OK, $"expected 200, got {(int)retried.Status}: {retried.Body}");
        var replayed = await PublishAsync(node, topic, "later", "order-4004");
        Assert.Equal((retried.Epoch, retried.Offset), (replayed.Epoch, replayed.Offset));
    }

    private static async Task<TestClient> SubscribeAsync(GatewayServer node, string topic)
    {
        var (client, _) = await TestClient.ConnectAsync(node, GatewayServer.MintToken("idem-" + topic, subscribe: ["team:*"]));
        await client.SendAsync(Frames.Subscribe(1, topic));
        var subscribed = await client.ReceiveUntilAsync(f => f.Kind is FrameKind.Subscribed or FrameKind.Error, timeout: Wait);
        Assert.Equal(FrameKind.Subscribed, subscribed.Kind);
        return client;
    }

    /// <summary>Publishes an end marker (no key) and returns the payloads the subscriber got before it.</summary>
    private async Task<List<string>> ReceiveUntilEndAsync(TestClient subscriber, string topic)
    {
        var end = await PublishAsync(cluster.A, topic, "end", key: null);
        Assert.Equal(HttpStatusCode.OK, end.Status);
        var payloads = new List<string>();
        while (true)
        {
            var message = await subscriber.ReceiveUntilAsync(f => f.Kind == FrameKind.Message, timeout: Wait);
            var text = message.PayloadText.Trim('"');
            if (text == "end")
            {
                return payloads;
            }

            payloads.Add(text);
        }
    }

    private static async Task<Published> PublishAsync(GatewayServer node, string topic, string text, string? key)
    {
        using var http = node.CreateHttpClient();
        using var response = await http.PostAsJsonAsync("api/v1/publish", new { topic, payload = text, idempotencyKey = key });
        var body = await response.Content.ReadAsStringAsync();
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return new Published(response.StatusCode, 0, 0, body);
        }

        var json = JsonDocument.Parse(body).RootElement;
        return new Published(response.StatusCode, json.GetProperty("epoch").GetUInt64(), json.GetProperty("offset").GetUInt64(), body);
    }

    private sealed record Published(HttpStatusCode Status, ulong Epoch, ulong Offset, string Body);
}
