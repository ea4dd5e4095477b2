using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Gateway.Dispatch.Tests.Engines.Redis;
using Gateway.Protocol;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.ScaleOut;

/// <summary>
/// Issue 11: two gateway nodes (real Kestrel hosts) on one real redis-server serve as one: cross-node
/// delivery with one epoch and offset sequence, per-topic order with publishers on both nodes, recovery and
/// pending notifications on the other node.
/// </summary>
public sealed class ClusterTests(ClusterTests.Cluster cluster) : IClassFixture<ClusterTests.Cluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_message_published_on_A_reaches_subscribers_on_A_and_B_with_one_epoch_and_offset()
    {
        const string topic = "team:cross";
        var (onA, _) = await TestClient.ConnectAsync(cluster.A, GatewayServer.MintToken("cross-a", subscribe: ["team:*"]));
        var (onB, _) = await TestClient.ConnectAsync(cluster.B, GatewayServer.MintToken("cross-b", subscribe: ["team:*"]), tcp: true);
        await using var _a = onA;
        await using var _b = onB;
        await SubscribeAsync(onA, topic);
        await SubscribeAsync(onB, topic);

        var published = await PublishAsync(cluster.A, topic, "hello");
        var atA = await onA.ReceiveUntilAsync(f => f.Kind == FrameKind.Message, timeout: Wait);
        var atB = await onB.ReceiveUntilAsync(f => f.Kind == FrameKind.Message, timeout: Wait);
        Assert.Equal((published.Epoch, published.Offset), (atA.Epoch, atA.Offset));
        Assert.Equal((published.Epoch, published.Offset), (atB.Epoch, atB.Offset));
        Assert.Equal("hello", atB.PayloadText.Trim('"'));
    }

    [Fact]
    public async Task Publishers_on_both_nodes_give_every_subscriber_the_same_gap_free_order()
    {
        const string topic = "team:order";
        const int perNode = 300;
        var (onA, _) = await TestClient.ConnectAsync(cluster.A, GatewayServer.MintToken("order-a", subscribe: ["team:*"]));
        var (onB, _) = await TestClient.ConnectAsync(cluster.B, GatewayServer.MintToken("order-b", subscribe: ["team:*"]));
        await using var _a = onA;
        await using var _b = onB;
        await SubscribeAsync(onA, topic);
        await SubscribeAsync(onB, topic);
        var first = await PublishAsync(cluster.A, topic, "start");

        // Both nodes publish at once, in batches, to the same topic.
        await Task.WhenAll(PublishManyAsync(cluster.A, topic, "a", perNode), PublishManyAsync(cluster.B, topic, "b", perNode));

        var expected = Enumerable.Range((int)first.Offset, (2 * perNode) + 1).Select(i => (ulong)i).ToList();
        var seenA = await ReceiveOffsetsAsync(onA, expected.Count);
        var seenB = await ReceiveOffsetsAsync(onB, expected.Count);
        Assert.Equal(expected, seenA.Select(m => m.Offset));
        Assert.Equal(expected, seenB.Select(m => m.Offset));
        Assert.All(seenA.Concat(seenB), m => Assert.Equal(first.Epoch, m.Epoch));
        Assert.Equal(seenA.Select(m => m.PayloadText), seenB.Select(m => m.PayloadText));
    }

    [Fact]
    public async Task A_client_recovers_on_B_what_was_published_while_it_was_away_from_A()
    {
        const string topic = "team:recover";
        var token = GatewayServer.MintToken("roamer", subscribe: ["team:*"]);
        ReceivedFrame last;
        {
            var (onA, _) = await TestClient.ConnectAsync(cluster.A, token);
            await using var _a = onA;
            await SubscribeAsync(onA, topic);
            for (var i = 0; i < 5; i++)
            {
                await PublishAsync(cluster.A, topic, $"seen-{i}");
            }

            var seen = await ReceiveOffsetsAsync(onA, 5);
            last = seen[^1];
        }

        // Published while the client is away (on A, and on B).
        for (var i = 0; i < 30; i++)
        {
            await PublishAsync(i % 2 == 0 ? cluster.A : cluster.B, topic, $"missed-{i}");
        }

        var (onB, _) = await TestClient.ConnectAsync(cluster.B, token, tcp: true);
        await using var _b = onB;
        await onB.SendAsync(Frames.Subscribe(9, topic, new StreamPosition(last.Epoch, last.Offset)));
        var subscribed = await onB.ReceiveUntilAsync(f => f.Kind == FrameKind.Subscribed, timeout: Wait);
        Assert.Equal(FrameFlags.Recovered, subscribed.Flags);
        var replayed = await ReceiveOffsetsAsync(onB, 30);
        Assert.Equal(Enumerable.Range((int)last.Offset + 1, 30).Select(i => (ulong)i), replayed.Select(m => m.Offset));
        Assert.All(replayed, m => Assert.Equal(FrameFlags.Replayed, m.Flags));
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"missed-{i}"), replayed.Select(m => m.PayloadText.Trim('"')));

        // Live after the replay, published on the other node.
        var live = await PublishAsync(cluster.A, topic, "live");
        var next = await onB.ReceiveUntilAsync(f => f.Kind == FrameKind.Message, timeout: Wait);
        Assert.Equal(live.Offset, next.Offset);
    }

    [Fact]
    public async Task A_notification_acked_on_A_is_not_redelivered_on_B_and_an_unacked_one_is()
    {
        const string user = "nomad";
        var token = GatewayServer.MintToken(user);
        var acked = await NotifyAsync(cluster.A, user, "one");
        {
            var (onA, _) = await TestClient.ConnectAsync(cluster.A, token);
            await using var _a = onA;
            var first = await onA.ReceiveUntilAsync(f => f.Kind == FrameKind.Message, timeout: Wait);
            Assert.Equal(acked.Offset, first.Offset);
            await onA.SendAsync(Frames.Ack($"user:{user}", first.Offset));
            var unacked = await NotifyAsync(cluster.B, user, "two");
            var second = await onA.ReceiveUntilAsync(f => f.Kind == FrameKind.Message, timeout: Wait);
            Assert.Equal(unacked.Offset, second.Offset);
            // A ping round trip: the Ack (sent before it) has been processed by A.
            await onA.SendAsync(w => FrameWriter.WritePing(w, 7));
            await onA.ReceiveUntilAsync(f => f.Kind == FrameKind.Pong, timeout: Wait);
        }

        await Task.Delay(200); // the ack travels to Redis asynchronously
        var (onB, _) = await TestClient.ConnectAsync(cluster.B, token);
        await using var _b = onB;
        var redelivered = await onB.ReceiveUntilAsync(f => f.Kind == FrameKind.Message, timeout: Wait);
        Assert.Equal("two", redelivered.PayloadText.Trim('"'));
        Assert.Equal(FrameFlags.Replayed, redelivered.Flags);
        await onB.SendAsync(w => FrameWriter.WritePing(w, 8));
        var after = await onB.ReceiveUntilAsync(f => f.Kind is FrameKind.Message or FrameKind.Pong, timeout: Wait);
        Assert.Equal(FrameKind.Pong, after.Kind); // nothing else pending
    }

    [Fact]
    public async Task Health_names_the_engine_and_its_state()
    {
        using var http = cluster.A.CreateHttpClient(withApiKey: false);
        var body = await http.GetStringAsync("health/ready");
        Assert.Contains("redis", body, StringComparison.Ordinal);
        Assert.Contains("connected", body, StringComparison.Ordinal);
    }

    private static async Task SubscribeAsync(TestClient client, string topic)
    {
        await client.SendAsync(Frames.Subscribe(1, topic));
        var subscribed = await client.ReceiveUntilAsync(f => f.Kind is FrameKind.Subscribed or FrameKind.Error, timeout: Wait);
        Assert.Equal(FrameKind.Subscribed, subscribed.Kind);
    }

    private static async Task<List<ReceivedFrame>> ReceiveOffsetsAsync(TestClient client, int count)
    {
        var messages = new List<ReceivedFrame>();
        while (messages.Count < count)
        {
            messages.Add(await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Message, timeout: Wait));
        }

        return messages;
    }

    private static async Task<(ulong Epoch, ulong Offset)> PublishAsync(GatewayServer node, string topic, string text)
    {
        using var http = node.CreateHttpClient();
        var response = await http.PostAsJsonAsync("api/v1/publish", new { topic, payload = text });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (json.GetProperty("epoch").GetUInt64(), json.GetProperty("offset").GetUInt64());
    }

    private static async Task PublishManyAsync(GatewayServer node, string topic, string prefix, int count)
    {
        using var http = node.CreateHttpClient();
        for (var sent = 0; sent < count; sent += 25)
        {
            var messages = Enumerable.Range(sent, 25).Select(i => new { topic, payload = $"{prefix}-{i}" }).ToArray();
            (await http.PostAsJsonAsync("api/v1/batch", new { messages })).EnsureSuccessStatusCode();
        }
    }

    private static async Task<(ulong Epoch, ulong Offset)> NotifyAsync(GatewayServer node, string user, string text)
    {
        using var http = node.CreateHttpClient();
        var response = await http.PostAsJsonAsync("api/v1/notify", new { user, payload = text });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (json.GetProperty("epoch").GetUInt64(), json.GetProperty("offset").GetUInt64());
    }

    /// <summary>One redis-server and two gateway nodes using it.</summary>
    public sealed class Cluster : IAsyncLifetime
    {
        private readonly RedisServer _redis = new();

        public GatewayServer A { get; private set; } = null!;

        public GatewayServer B { get; private set; } = null!;

        public RedisServer Redis => _redis;

        public static Dictionary<string, string?> NodeSettings(string nodeId, string redis) => new()
        {
            ["Gateway:NodeId"] = nodeId,
            ["Gateway:Engine:Kind"] = "redis",
            ["Gateway:Engine:Redis:Configuration"] = redis,
            ["Gateway:Engine:Redis:OperationTimeout"] = "00:00:02",
        };

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
