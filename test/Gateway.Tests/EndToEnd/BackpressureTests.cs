using System.Net.Http.Json;
using System.Net.Sockets;
using Gateway.Dispatch;
using Gateway.Protocol;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.EndToEnd;

/// <summary>Priorities under load and slow consumers (small outbound queues so the policy kicks in quickly).</summary>
public sealed class BackpressureTests(BackpressureTests.Fixture fixture) : IClassFixture<BackpressureTests.Fixture>
{
    private readonly GatewayServer _server = fixture.Server;

    [Fact]
    public async Task A_critical_message_overtakes_queued_low_traffic()
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("prio", subscribe: ["team:*"], publish: ["team:*"]), tcp: true);
        await using var _c = client;

        // Fan-out to more subscribers keeps the dispatch workers busy, so low traffic is still queued in
        // the priority rings when the critical message arrives (the situation under test).
        var others = new List<TestClient>();
        var dispatcher = _server.App.Services.GetRequiredService<Dispatcher>();
        var ballast = new List<Session>();
        try
        {
            for (var i = 0; i < 10; i++)
            {
                var (other, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("load" + i, subscribe: ["team:*"]), tcp: true);
                others.Add(other);
            }

            // "Under load" must not depend on scheduling: 2,000 extra in-process sessions (real dispatcher
            // sessions, nobody reading them) subscribe to the low topic, so every low message costs the workers
            // thousands of deliveries and the low burst is certainly still queued in the rings when the critical
            // message is parsed. Each attempt uses fresh topics; overtaking must be observed in one of them.
            var observations = new List<string>();
            for (var attempt = 0; attempt < 3; attempt++)
            {
                var low = $"team:low{attempt}";
                var critical = $"team:crit{attempt}";
                foreach (var subscriber in others.Append(client))
                {
                    await subscriber.SendAsync(Frames.Subscribe(1, low));
                    await subscriber.ReceiveUntilAsync(f => f.Kind == FrameKind.Subscribed && f.Topic == low);
                }

                for (var i = 0; i < 2000; i++)
                {
                    var session = dispatcher.Connect($"ballast-{attempt}-{i}", null);
                    ballast.Add(session);
                    Assert.Equal(Gateway.Protocol.Errors.ErrorCode.None, dispatcher.Subscribe(session, low, null, 0, 10));
                }

                await client.SendAsync(Frames.Subscribe(2, critical));
                await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Subscribed && f.Topic == critical);
                var (overtook, note) = await PublishAndCheckOvertakingAsync(client, low, critical);
                observations.Add(note);
                if (overtook)
                {
                    return;
                }
            }

            Assert.Fail("The critical message never overtook queued low traffic: " + string.Join("; ", observations));
        }
        finally
        {
            foreach (var session in ballast)
            {
                dispatcher.Disconnect(session);
            }

            foreach (var other in others)
            {
                await other.DisposeAsync();
            }
        }
    }

    private static async Task<(bool Overtook, string Note)> PublishAndCheckOvertakingAsync(TestClient client, string low, string critical)
    {
        // 3,000 low publishes then one critical, in ONE write: the critical one is published last.
        const int lowCount = 3000;
        await client.SendAsync(w =>
        {
            for (var i = 0; i < lowCount; i++)
            {
                FrameWriter.WritePublish(w, 0, Priority.Low, low, new byte[64]);
            }

            FrameWriter.WritePublish(w, 0, Priority.Critical, critical, "now"u8);
        });

        var before = new List<ReceivedFrame>();
        var message = await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Message && f.Topic == critical, before, TimeSpan.FromSeconds(30));
        Assert.Equal(Priority.Critical, message.Priority);

        // Overtaking: low messages published before the critical one are still delivered after it
        // (one connection's queue is FIFO, so a low after the critical was dispatched after it).
        var after = new List<ReceivedFrame>();
        try
        {
            await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Message && f.Topic == low, after, TimeSpan.FromSeconds(3));
            return (true, "overtook");
        }
        catch (TimeoutException)
        {
            return (false, $"{before.Count(f => f.Topic == low)} low before, none after");
        }
    }

    [Fact]
    public async Task A_client_that_stops_reading_is_closed_as_slow_consumer_while_another_receives_everything()
    {
        var dispatcher = _server.GetRequiredService<Dispatcher>();
        var token = GatewayServer.MintToken("stalled", subscribe: ["team:*"]);
        var topic = "team:firehose";

        // The stalled client: raw TCP with a tiny receive window, connects and subscribes, then never reads again.
        using var stalled = new TcpClient { ReceiveBufferSize = 4096 };
        await stalled.ConnectAsync(_server.TcpEndPoint!);
        var stream = stalled.GetStream();
        await stream.WriteAsync(ProtocolVersion.TcpHello.ToArray());
        await stream.ReadExactlyAsync(new byte[6]);
        var hello = new System.Buffers.ArrayBufferWriter<byte>();
        FrameWriter.WriteConnect(hello, 1, token, "stalled");
        FrameWriter.WriteSubscribe(hello, 1, topic);
        await stream.WriteAsync(hello.WrittenMemory);
        await InvalidInputTests.WaitUntilAsync(() => dispatcher.SnapshotSessions().Any(s => s.UserId == "stalled" && s.IsSubscribed(topic)));

        var (healthy, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("healthy-reader", subscribe: ["team:*"]));
        await using var _h = healthy;
        await healthy.SendAsync(Frames.Subscribe(1, topic));
        Assert.Equal(FrameKind.Subscribed, (await healthy.ReceiveAsync()).Kind);

        // High priority is never shed: the stalled queue overflows and the dispatcher gives up on it.
        const int total = 1200;
        var payload = Convert.ToBase64String(new byte[8 * 1024]);
        using var http = _server.CreateHttpClient();
        for (var sent = 0; sent < total; sent += 50)
        {
            var messages = Enumerable.Range(sent, 50).Select(i => new { topic, payloadBase64 = payload, priority = "high" }).ToArray();
            (await http.PostAsJsonAsync("api/v1/batch", new { messages })).EnsureSuccessStatusCode();
        }

        var offsets = new List<ulong>();
        while (offsets.Count < total)
        {
            var message = await healthy.ReceiveAsync(TimeSpan.FromSeconds(30));
            Assert.True(message.Kind == FrameKind.Message, message.ToString());
            offsets.Add(message.Offset);
        }

        Assert.Equal(offsets.Order(), offsets);
        Assert.Equal(total, offsets.Distinct().Count());
        await InvalidInputTests.WaitUntilAsync(() => dispatcher.SnapshotSessions().All(s => s.UserId != "stalled"), TimeSpan.FromSeconds(30));
        await InvalidInputTests.WaitUntilAsync(() => _server.LogLines.Any(l => l.Contains("closed: slow_consumer", StringComparison.Ordinal)), TimeSpan.FromSeconds(30));
    }

    public sealed class Fixture : ServerFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Gateway:Dispatch:Outbound:MaxFrames"] = "128",
            ["Gateway:Dispatch:Outbound:MaxBytes"] = "1048576",
            ["Gateway:Limits:FrameBurst"] = "5000",
            ["Gateway:Limits:FramesPerSecond"] = "5000",
        };
    }
}
