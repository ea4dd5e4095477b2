using System.Net.Http.Json;
using System.Text.Json;
using Gateway.Dispatch;
using Gateway.Protocol;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>
/// Issue 10, observation 1: a recovery larger than the connection's outbound queue (16 frames here) is paged
/// out as the client reads and arrives complete, over a real WebSocket, while live messages are published.
/// Before paging, the replay was pushed into the queue whole: low/normal were shed (the tail silently
/// missing), critical/high closed the connection as a slow consumer.
/// </summary>
public sealed class RecoveryUnderPressureTests(RecoveryUnderPressureTests.Fixture fixture) : IClassFixture<RecoveryUnderPressureTests.Fixture>
{
    private readonly GatewayServer _server = fixture.Server;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Four_topics_each_600_missed_are_replayed_completely_through_a_16_frame_queue(bool tcp)
    {
        const int topics = 4, missed = 600, live = 50;
        var prefix = tcp ? "team:rt" : "team:rw";
        var names = Enumerable.Range(0, topics).Select(t => $"{prefix}{t}").ToArray();
        using var http = _server.CreateHttpClient();
        var epochs = new ulong[topics];
        for (var t = 0; t < topics; t++)
        {
            epochs[t] = await PublishBatchAsync(http, names[t], 0, missed);
        }

        var dispatcher = _server.GetRequiredService<Dispatcher>();
        var shedBefore = dispatcher.GetStats().Shed.Sum();
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("recoverer-" + prefix, subscribe: ["team:*"]), tcp);
        await using var _c = client;
        for (var t = 0; t < topics; t++)
        {
            await client.SendAsync(Frames.Subscribe((uint)(t + 1), names[t], new StreamPosition(epochs[t], 0)));
        }

        // Live traffic on every topic while the replays are paged out.
        var publisher = Task.Run(async () =>
        {
            for (var t = 0; t < topics; t++)
            {
                // Live messages are critical/high: once a topic has joined, low/normal live traffic may be shed
                // on a 16-frame queue (that is backpressure, leaving a gap the client sees), which is not under test.
                await PublishBatchAsync(http, names[t], missed, live, ["critical", "high"]);
            }
        });

        var byTopic = names.ToDictionary(n => n, _ => new List<ReceivedFrame>());
        var subscribed = new Dictionary<string, ReceivedFrame>();
        var received = 0;
        while (received < topics * (missed + live))
        {
            ReceivedFrame frame;
            try
            {
                frame = await client.ReceiveAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
                var s = dispatcher.SnapshotSessions().First(x => x.UserId == "recoverer-" + prefix);
                Assert.Fail($"stalled at {received}: " + string.Join(",", byTopic.Select(kv => $"{kv.Key}={kv.Value.Count}")) + $" queue={s.Outbound.Count} subs={subscribed.Count} faults={dispatcher.GetStats().WorkerFaults} " + string.Join("\n", _server.LogLines.Where(l => l.Contains("ault", StringComparison.Ordinal)).Take(3)));
                throw;
            }

            Assert.True(frame.Kind is FrameKind.Message or FrameKind.Subscribed, frame.ToString());
            if (frame.Kind == FrameKind.Subscribed)
            {
                subscribed[frame.Topic] = frame;
                continue;
            }

            byTopic[frame.Topic].Add(frame);
            if (++received % 64 == 0)
            {
                await Task.Delay(2); // a reader slower than the replay could be pushed
            }
        }

        await publisher;
        foreach (var name in names)
        {
            Assert.Equal(FrameFlags.Recovered, subscribed[name].Flags);
            var offsets = byTopic[name].Select(m => m.Offset);
            Assert.Equal(Enumerable.Range(1, missed + live).Select(i => (ulong)i), offsets);
            Assert.All(byTopic[name], m => Assert.Equal(m.Offset <= subscribed[name].Offset, m.Flags == FrameFlags.Replayed));
        }

        Assert.Equal(shedBefore, dispatcher.GetStats().Shed.Sum());
    }

    private static async Task<ulong> PublishBatchAsync(HttpClient http, string topic, int from, int count, string[]? priorities = null)
    {
        // Every priority by default, so the old behaviour would both shed (low/normal) and close (critical/high).
        priorities ??= ["critical", "high", "normal", "low"];
        var messages = Enumerable.Range(from, count).Select(i => new { topic, payload = new { i }, priority = priorities[i % priorities.Length] }).ToArray();
        var response = await http.PostAsJsonAsync("api/v1/batch", new { messages });
        response.EnsureSuccessStatusCode();
        var results = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results");
        return results[0].GetProperty("epoch").GetUInt64();
    }

    /// <summary>A 16-frame outbound queue: any replay larger than 8 frames must be paged.</summary>
    public sealed class Fixture : ServerFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Gateway:Dispatch:Outbound:MaxFrames"] = "16",
            ["Gateway:Dispatch:Outbound:MaxBytes"] = "1048576",
        };
    }
}
