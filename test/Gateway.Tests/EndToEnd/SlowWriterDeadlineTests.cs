using System.Diagnostics;
using System.Net.Http.Json;
using Gateway.Dispatch;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>
/// The stalled-writer deadline (Gateway:Connection:WriteStallTimeout, issue 14 item 1): a subscriber that never reads,
/// fed normal-priority messages (which are shed, so its queue never overflows into a slow-consumer close), is closed as
/// slow_consumer once its socket has accepted nothing for the deadline while frames waited.
/// </summary>
public sealed class SlowWriterDeadlineTests(SlowWriterDeadlineTests.Fixture fixture) : IClassFixture<SlowWriterDeadlineTests.Fixture>
{
    private const long MaxQueueBytes = 65536;

    private readonly GatewayServer _server = fixture.Server;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_subscriber_whose_socket_accepts_nothing_is_closed_as_slow_consumer(bool tcp)
    {
        var dispatcher = _server.GetRequiredService<Dispatcher>();
        var user = tcp ? "stall-tcp" : "stall-ws";
        var topic = $"team:stall-{(tcp ? "tcp" : "ws")}";
        var token = GatewayServer.MintToken(user, subscribe: ["team:*"]);
        await using var hostile = tcp ? await SilentClient.ConnectTcpAsync(_server, token) : await SilentClient.ConnectWebSocketAsync(_server, token);
        await hostile.SendAsync(w => FrameWriter.WriteSubscribe(w, 1, topic));
        await InvalidInputTests.WaitUntilAsync(() => dispatcher.SnapshotSessions().Any(s => s.UserId == user && s.IsSubscribed(topic)));
        var session = dispatcher.SnapshotSessions().Single(s => s.UserId == user);

        var (healthy, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken(user + "-healthy", subscribe: ["team:*"]), tcp);
        await using var _h = healthy;
        await healthy.SendAsync(Frames.Subscribe(1, topic));
        await healthy.ReceiveUntilAsync(f => f.Kind == FrameKind.Subscribed);

        // Normal-priority traffic until the node gives up on the silent client; its queue stays within its bound.
        using var http = _server.CreateHttpClient();
        var payload = Convert.ToBase64String(new byte[1000]);
        long maxQueued = 0;
        var published = 0;
        var clock = Stopwatch.StartNew();
        while (dispatcher.SnapshotSessions().Contains(session) && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            var messages = Enumerable.Range(0, 10).Select(_ => new { topic, payloadBase64 = payload, priority = "normal" }).ToArray();
            (await http.PostAsJsonAsync("api/v1/batch", new { messages })).EnsureSuccessStatusCode();
            published += messages.Length;
            maxQueued = Math.Max(maxQueued, session.Outbound.Bytes);
            await Task.Delay(100);
        }

        Assert.DoesNotContain(session, dispatcher.SnapshotSessions());
        Assert.True(maxQueued <= MaxQueueBytes, $"{maxQueued} bytes queued (bound {MaxQueueBytes})");
        Assert.Equal(0, session.Outbound.Count); // released at the close
        await InvalidInputTests.WaitUntilAsync(() => _server.LogLines.Any(l => l.Contains(session.ConnectionId, StringComparison.Ordinal) && l.Contains("accepted no bytes", StringComparison.Ordinal)));
        await InvalidInputTests.WaitUntilAsync(() => _server.LogLines.Any(l => l.Contains(session.ConnectionId, StringComparison.Ordinal) && l.Contains("slow_consumer", StringComparison.Ordinal) && l.Contains("closed", StringComparison.Ordinal)));

        // The silent client finds its connection cut; the healthy one received everything published and is still served.
        await hostile.ReadAsync(_ => false, TimeSpan.FromSeconds(10));
        Assert.True(hostile.Ended);
        var offsets = new List<ulong>();
        while (offsets.Count < published)
        {
            offsets.Add((await healthy.ReceiveUntilAsync(f => f.Kind == FrameKind.Message && f.Topic == topic, timeout: TimeSpan.FromSeconds(20))).Offset);
        }

        Assert.Equal(Enumerable.Range(1, published).Select(i => (ulong)i), offsets);
        await healthy.SendAsync(w => FrameWriter.WritePing(w, 7));
        await healthy.ReceiveUntilAsync(f => f.Kind == FrameKind.Pong);
    }

    public sealed class Fixture : ServerFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Gateway:Connection:SendBufferBytes"] = "4096",
            ["Gateway:Connection:MaxWriteBytes"] = "1024",
            ["Gateway:Connection:WriteStallTimeout"] = "00:00:01",
            ["Gateway:Dispatch:Outbound:MaxBytes"] = MaxQueueBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
    }
}
