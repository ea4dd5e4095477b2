using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Gateway.Client.Tests.Infrastructure;
using Gateway.Dispatch.Tests.Engines.Redis;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.ScaleOut;

/// <summary>
/// Issue 12 (chaos scenario "redis" lost 9 acknowledged notifications): a node cut off from Redis while another
/// node appends must deliver what it missed once Redis answers again, even when the missed message is the
/// topic's last one (no later message reveals the gap) and even when the node's circuit breaker opened during
/// the outage. Node B reaches Redis through a real TCP forwarder that the test cuts and restores; node A keeps
/// its own connection and appends while B is away.
/// </summary>
public sealed class EngineCatchUpTests : IAsyncLifetime
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly RedisServer _redis = new();
    private TcpProxy _toRedis = null!;
    private GatewayServer _a = null!;
    private GatewayServer _b = null!;

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        _toRedis = new TcpProxy(int.Parse(_redis.Configuration.Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture));
        _a = await GatewayServer.StartAsync(ClusterTests.Cluster.NodeSettings("catchup-a", _redis.Configuration));
        _b = await GatewayServer.StartAsync(ClusterTests.Cluster.NodeSettings("catchup-b", $"127.0.0.1:{_toRedis.Port}"));
    }

    public async Task DisposeAsync()
    {
        await _b.DisposeAsync();
        await _a.DisposeAsync();
        await _toRedis.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Messages_appended_elsewhere_while_a_node_was_cut_off_reach_its_subscribers_after_the_engine_returns()
    {
        const string user = "catchup-user";
        const string topic = "team:catchup";
        var (client, _) = await TestClient.ConnectAsync(_b, GatewayServer.MintToken(user, subscribe: ["team:*"]), tcp: true);
        await using var _c = client;
        await client.SendAsync(Frames.Subscribe(1, topic));
        await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Subscribed, timeout: Wait);
        using var httpA = _a.CreateHttpClient();
        using var httpB = _b.CreateHttpClient();

        // Both streams are live on B.
        var before = await PostAsync(httpA, "api/v1/notify", new { user, payload = "before" });
        Assert.Equal(before.Offset, (await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Message && f.Topic == $"user:{user}", timeout: Wait)).Offset);
        var topicBefore = await PostAsync(httpA, "api/v1/publish", new { topic, payload = "before" });
        Assert.Equal(topicBefore.Offset, (await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Message && f.Topic == topic, timeout: Wait)).Offset);

        // Cut B off from Redis and wait until it knows.
        _toRedis.Blocked = true;
        _toRedis.DropAll();
        await WaitUntilAsync(async () => (await httpB.GetStringAsync("health/ready")).Contains("\"engineAvailable\": false", StringComparison.Ordinal));

        // Publishes on B are refused (retryable); the client's acks reach the engine and fail, which opens B's
        // circuit breaker (as in the chaos run, where acknowledged notifications did). A appends what B must catch up on.
        using (var r = await httpB.PostAsJsonAsync("api/v1/publish", new { topic, payload = "refused" }))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode);
        }

        for (var i = 0; i < 16; i++)
        {
            await client.SendAsync(Frames.Ack($"user:{user}", before.Offset));
        }

        await Task.Delay(500); // let B process the acks (each one an engine call that fails)

        var missedNotification = await PostAsync(httpA, "api/v1/notify", new { user, payload = "missed" });
        var missedMessage = await PostAsync(httpA, "api/v1/publish", new { topic, payload = "missed" });

        // Redis reachable again: B restores its subscriptions and catches up from the streams.
        _toRedis.Blocked = false;
        var got = new Dictionary<string, ulong>();
        var clock = Stopwatch.StartNew();
        while (got.Count < 2 && clock.Elapsed < Wait)
        {
            var f = await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Message, timeout: Wait - clock.Elapsed);
            got[f.Topic] = f.Offset;
        }

        Assert.Equal(missedNotification.Offset, got.GetValueOrDefault($"user:{user}"));
        Assert.Equal(missedMessage.Offset, got.GetValueOrDefault(topic));
    }

    private static async Task<(ulong Epoch, ulong Offset)> PostAsync(HttpClient http, string path, object body)
    {
        using var response = await http.PostAsJsonAsync(path, body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (json.GetProperty("epoch").GetUInt64(), json.GetProperty("offset").GetUInt64());
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < Wait, "condition not reached in time");
            await Task.Delay(100);
        }
    }
}
