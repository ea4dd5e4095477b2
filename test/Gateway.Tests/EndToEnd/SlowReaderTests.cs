using System.Diagnostics;
using System.Net.Http.Json;
using Gateway.Dispatch;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>
/// Clients that send requests and never read the answers (issue 14 item 1), and priorities once a connection is busy
/// (issue 13 item 3): control frames are bounded, and the backlog of a busy connection waits in its outbound queue,
/// where a critical message and a publisher's ack overtake queued low traffic. Small socket buffers and writes make the
/// situations quick to reach; the stalled-writer deadline is far away here (SlowWriterDeadlineTests covers it).
/// </summary>
public sealed class SlowReaderTests(SlowReaderTests.Fixture fixture) : IClassFixture<SlowReaderTests.Fixture>
{
    private const int MaxControlFrames = 64;

    private readonly GatewayServer _server = fixture.Server;

    [Fact]
    public async Task A_tcp_client_that_publishes_at_its_rate_and_never_reads_its_acks_is_closed_as_slow_consumer()
    {
        var dispatcher = _server.GetRequiredService<Dispatcher>();
        await using var hostile = await SilentClient.ConnectTcpAsync(_server, GatewayServer.MintToken("acks-unread", publish: ["team:*"]));
        var session = await SessionOfAsync(dispatcher, "acks-unread");
        var (healthy, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("acks-healthy", subscribe: ["team:*"], publish: ["team:*"]), tcp: true);
        await using var _h = healthy;

        // 1,000 publishes/s (half the frame rate limit), each answered by a PublishAck it never reads.
        uint correlation = 0;
        var maxControl = await FloodUntilClosedAsync(session, () => hostile.SendAsync(w =>
        {
            for (var i = 0; i < 100; i++)
            {
                FrameWriter.WritePublish(w, ++correlation, Priority.Normal, "team:void", "x"u8);
            }
        }));

        // The documented close: a client that reads within the close grace (ClientConnection.CloseGrace, 6 s) gets the
        // answers still queued, then Error slow_consumer, then the end. It starts reading now, while the healthy client
        // is checked: on a loaded machine those checks alone can outlast the grace, after which the node cuts the socket.
        var read = hostile.ReadAsync(_ => false, TimeSpan.FromSeconds(20));
        await AssertClosedAsSlowConsumerAsync(dispatcher, session, maxControl, healthy, "team:acks");

        var frames = await read;
        Assert.True(hostile.Ended);
        Assert.Equal(FrameKind.Error, frames[^1].Kind);
        Assert.Equal(ErrorCode.SlowConsumer, frames[^1].ErrorCode);
        Assert.Contains(frames, f => f.Kind == FrameKind.PublishAck);
    }

    [Fact]
    public async Task A_websocket_client_that_pings_at_its_rate_and_never_reads_is_closed_with_4008()
    {
        var dispatcher = _server.GetRequiredService<Dispatcher>();
        await using var hostile = await SilentClient.ConnectWebSocketAsync(_server, GatewayServer.MintToken("pongs-unread"));
        var session = await SessionOfAsync(dispatcher, "pongs-unread");
        var (healthy, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("pongs-healthy", subscribe: ["team:*"], publish: ["team:*"]));
        await using var _h = healthy;

        long nonce = 0;
        var maxControl = await FloodUntilClosedAsync(session, () => hostile.SendAsync(w =>
        {
            for (var i = 0; i < 100; i++)
            {
                FrameWriter.WritePing(w, ++nonce);
            }
        }));

        var read = hostile.ReadAsync(_ => false, TimeSpan.FromSeconds(20)); // within the close grace, as above
        await AssertClosedAsSlowConsumerAsync(dispatcher, session, maxControl, healthy, "team:pongs");

        var frames = await read;
        Assert.True(hostile.Ended);
        Assert.Equal((System.Net.WebSockets.WebSocketCloseStatus)4008, hostile.CloseStatus);
        Assert.Equal(ErrorCode.SlowConsumer, frames.Last(f => f.Kind == FrameKind.Error).ErrorCode);
        Assert.Contains(frames, f => f.Kind == FrameKind.Pong);
    }

    [Fact]
    public async Task A_critical_message_and_the_publishers_ack_overtake_a_queued_low_backlog()
    {
        var dispatcher = _server.GetRequiredService<Dispatcher>();
        var bulk = "team:bulk-" + Guid.NewGuid().ToString("N")[..8];
        var alert = "team:alert-" + Guid.NewGuid().ToString("N")[..8];
        await using var client = await SilentClient.ConnectTcpAsync(_server, GatewayServer.MintToken("busy-reader", subscribe: ["team:*"], publish: ["team:*"]));
        await client.SendAsync(w =>
        {
            FrameWriter.WriteSubscribe(w, 1, bulk);
            FrameWriter.WriteSubscribe(w, 2, alert);
        });
        var start = await client.ReadAsync(f => f.Count(x => x.Kind == FrameKind.Subscribed) == 2, TimeSpan.FromSeconds(15));
        Assert.Equal(2, start.Count(f => f.Kind == FrameKind.Subscribed));
        var session = await SessionOfAsync(dispatcher, "busy-reader");

        // A large low backlog the client does not read yet: a few KiB of it fit in the sockets, the rest waits in the
        // connection's outbound queue.
        const int backlog = 500;
        using var http = _server.CreateHttpClient();
        var payload = Convert.ToBase64String(new byte[1000]);
        for (var sent = 0; sent < backlog; sent += 100)
        {
            var messages = Enumerable.Range(sent, 100).Select(_ => new { topic = bulk, payloadBase64 = payload, priority = "low" }).ToArray();
            (await http.PostAsJsonAsync("api/v1/batch", new { messages })).EnsureSuccessStatusCode();
        }

        await InvalidInputTests.WaitUntilAsync(() => session.Outbound.Count >= backlog - 50);
        var queued = await SettledCountAsync(session.Outbound);

        // Then the client publishes (its ack, and its own message behind the backlog), and a critical alert is published.
        await client.SendAsync(w => FrameWriter.WritePublish(w, 77, Priority.Low, bulk, "mine"u8));
        var critical = new[] { new { topic = alert, payloadBase64 = Convert.ToBase64String("fire"u8.ToArray()), priority = "critical" } };
        (await http.PostAsJsonAsync("api/v1/batch", new { messages = critical })).EnsureSuccessStatusCode();
        await InvalidInputTests.WaitUntilAsync(() => session.Outbound.Count >= queued + 3);

        var frames = await client.ReadAsync(
            f => f.Count(x => x.Kind == FrameKind.Message && x.Topic == bulk) == backlog + 1 && f.Any(x => x.Topic == alert),
            TimeSpan.FromSeconds(30));
        var bulkOffsets = frames.Where(f => f.Kind == FrameKind.Message && f.Topic == bulk).Select(f => f.Offset).ToList();
        Assert.Equal(Enumerable.Range(1, backlog + 1).Select(i => (ulong)i), bulkOffsets); // a topic's order is kept

        var alertAt = frames.FindIndex(f => f.Kind == FrameKind.Message && f.Topic == alert);
        var ackAt = frames.FindIndex(f => f.Kind == FrameKind.PublishAck && f.CorrelationId == 77);
        var middleOfBacklogAt = frames.FindIndex(f => f.Kind == FrameKind.Message && f.Topic == bulk && f.Offset == backlog / 2);
        var ownMessageAt = frames.FindIndex(f => f.Kind == FrameKind.Message && f.Topic == bulk && f.Offset == backlog + 1);
        Assert.True(alertAt >= 0 && ackAt >= 0, "the alert and the ack arrived");
        Assert.True(alertAt < middleOfBacklogAt, $"critical at {alertAt}, backlog message {backlog / 2} at {middleOfBacklogAt}");
        Assert.True(ackAt < middleOfBacklogAt, $"ack at {ackAt}, backlog message {backlog / 2} at {middleOfBacklogAt}");
        Assert.True(ackAt < ownMessageAt, "the PublishAck precedes the message it announces");
    }

    /// <summary>
    /// The queue's length once the write loop can hand the socket nothing more (both socket buffers full): the count
    /// stops moving. Until then it falls as the writer drains, and a later "count grew by n" would be checked against a
    /// moving base.
    /// </summary>
    private static async Task<int> SettledCountAsync(OutboundQueue queue)
    {
        var clock = Stopwatch.StartNew();
        var last = queue.Count;
        var stableSince = clock.Elapsed;
        while (clock.Elapsed - stableSince < TimeSpan.FromSeconds(2))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"the outbound queue kept draining for 30 s ({queue.Count} queued)");
            await Task.Delay(50);
            var count = queue.Count;
            if (count != last)
            {
                last = count;
                stableSince = clock.Elapsed;
            }
        }

        return last;
    }

    private static async Task<Session> SessionOfAsync(Dispatcher dispatcher, string user)
    {
        await InvalidInputTests.WaitUntilAsync(() => dispatcher.SnapshotSessions().Any(s => s.UserId == user));
        return dispatcher.SnapshotSessions().Single(s => s.UserId == user);
    }

    /// <summary>Sends a burst every 100 ms until the node gives up on the session; returns the most control frames seen queued.</summary>
    private static async Task<int> FloodUntilClosedAsync(Session session, Func<Task> burst)
    {
        var maxControl = 0;
        var clock = Stopwatch.StartNew();
        while (session.Outbound.CloseReason == ErrorCode.None && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            await burst();
            maxControl = Math.Max(maxControl, session.Outbound.ControlCount);
            await Task.Delay(100);
        }

        return Math.Max(maxControl, session.Outbound.ControlCount);
    }

    private async Task AssertClosedAsSlowConsumerAsync(Dispatcher dispatcher, Session session, int maxControl, TestClient healthy, string topic)
    {
        Assert.Equal(ErrorCode.SlowConsumer, session.Outbound.CloseReason);
        Assert.True(maxControl <= MaxControlFrames, $"{maxControl} control frames queued (bound {MaxControlFrames})");
        Assert.True(session.Outbound.ControlBytes <= 64 * 1024);

        // A well-behaved client on the same node meanwhile: subscribes, publishes with an ack, receives, pings.
        await healthy.SendAsync(Frames.Subscribe(1, topic));
        await healthy.ReceiveUntilAsync(f => f.Kind == FrameKind.Subscribed && f.Topic == topic);
        await healthy.SendAsync(Frames.Publish(2, topic, "still served"));
        await healthy.ReceiveUntilAsync(f => f.Kind == FrameKind.PublishAck && f.CorrelationId == 2);
        Assert.Equal("still served", (await healthy.ReceiveUntilAsync(f => f.Kind == FrameKind.Message && f.Topic == topic)).PayloadText);
        await healthy.SendAsync(w => FrameWriter.WritePing(w, 42));
        await healthy.ReceiveUntilAsync(f => f.Kind == FrameKind.Pong);

        // The node lets go of the hostile connection (its memory with it).
        await InvalidInputTests.WaitUntilAsync(() => !dispatcher.SnapshotSessions().Contains(session), TimeSpan.FromSeconds(20));
        Assert.Equal(0, session.Outbound.Count - session.Outbound.ControlCount);
    }

    public sealed class Fixture : ServerFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Gateway:Connection:SendBufferBytes"] = "4096",
            ["Gateway:Connection:MaxWriteBytes"] = "1024",
            ["Gateway:Connection:WriteStallTimeout"] = "00:10:00",
            ["Gateway:Dispatch:Outbound:MaxControlFrames"] = MaxControlFrames.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Gateway:Dispatch:Outbound:MaxControlBytes"] = "65536",
        };
    }
}
