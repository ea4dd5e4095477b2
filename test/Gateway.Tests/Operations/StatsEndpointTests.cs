using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Operations;

/// <summary>/api/v1/stats and /api/v1/stats/history over HTTP with real traffic.</summary>
public sealed class StatsEndpointTests
{
    private static readonly Dictionary<string, string?> FastStats = new()
    {
        ["Gateway:Stats:Interval"] = "00:00:01",
        ["Gateway:Stats:SampleInterval"] = "00:00:00.250",
        ["Gateway:Stats:Window"] = "00:00:04",
    };

    [Fact]
    public async Task Stats_show_connections_rates_latency_and_the_history_stays_within_its_window()
    {
        await using var server = await GatewayServer.StartAsync(FastStats);
        using var http = server.CreateHttpClient();
        var (client, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("dora"));
        await using (client)
        {
            // Current view: the connected client.
            await OpsTestEnvironment.EventuallyAsync(
                async () =>
                {
                    using var s = JsonDocument.Parse(await http.GetStringAsync("/api/v1/stats"));
                    return s.RootElement.GetProperty("connections").GetInt64() >= 1 ? "ok" : null;
                },
                TimeSpan.FromSeconds(30),
                "connections >= 1 in /api/v1/stats");

            // Traffic: 20 critical notifications, each received by the client.
            for (var i = 0; i < 20; i++)
            {
                using var r = await http.PostAsJsonAsync("/api/v1/notify", new { user = "dora", payload = new { i }, priority = "critical" });
                Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            }

            for (var i = 0; i < 20; i++)
            {
                await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Message);
            }

            // The history shows the published rate, the end-to-end latency and frames out.
            var snapshot = await OpsTestEnvironment.EventuallyAsync(
                async () =>
                {
                    var h = JsonDocument.Parse(await http.GetStringAsync("/api/v1/stats/history"));
                    var match = h.RootElement.GetProperty("snapshots").EnumerateArray()
                        .Where(s => s.GetProperty("publishedPerSecond").GetProperty("critical").GetDouble() > 0)
                        .Select(s => s.Clone())
                        .FirstOrDefault();
                    return match.ValueKind == JsonValueKind.Undefined ? null : (object)match;
                },
                TimeSpan.FromSeconds(30),
                "a history snapshot with critical messages published");
            var snap = (JsonElement)snapshot;
            Assert.Equal("test-node", snap.GetProperty("node").GetString());
            Assert.True(snap.GetProperty("deliveredPerSecond").GetProperty("critical").GetDouble() > 0);
            Assert.True(snap.GetProperty("intervalSeconds").GetDouble() is > 0.5 and < 5);
            Assert.True(snap.GetProperty("ringCapacity").GetInt64() > 0);
            Assert.True(snap.GetProperty("connections").GetInt64() >= 1);

            var latency = await OpsTestEnvironment.EventuallyAsync(
                async () =>
                {
                    var h = JsonDocument.Parse(await http.GetStringAsync("/api/v1/stats/history"));
                    var match = h.RootElement.GetProperty("snapshots").EnumerateArray()
                        .Select(s => s.GetProperty("endToEndLatency").Clone())
                        .FirstOrDefault(l => l.GetProperty("count").GetInt64() > 0);
                    return match.ValueKind == JsonValueKind.Undefined ? null : (object)match;
                },
                TimeSpan.FromSeconds(30),
                "end-to-end latency samples in the history");
            var e2e = (JsonElement)latency;
            Assert.True(e2e.GetProperty("p99Ms").GetDouble() >= e2e.GetProperty("p50Ms").GetDouble());
            Assert.True(e2e.GetProperty("p50Ms").GetDouble() > 0);

            // The window (4 s at 1 s) bounds the history: wait past it and check the count never exceeds 4.
            using var history = await OpsTestEnvironment.EventuallyAsync(
                async () =>
                {
                    var h = JsonDocument.Parse(await http.GetStringAsync("/api/v1/stats/history"));
                    return h.RootElement.GetProperty("snapshots").GetArrayLength() >= 4 ? h : null;
                },
                TimeSpan.FromSeconds(30),
                "a full history window");
            Assert.Equal(4, history.RootElement.GetProperty("capacity").GetInt32());
            Assert.Equal(1, history.RootElement.GetProperty("intervalSeconds").GetDouble());
            Assert.Equal(4, history.RootElement.GetProperty("windowSeconds").GetDouble());
            await Task.Delay(TimeSpan.FromSeconds(2)); // let more snapshots arrive than the window holds
            using var later = JsonDocument.Parse(await http.GetStringAsync("/api/v1/stats/history"));
            var snapshots = later.RootElement.GetProperty("snapshots").EnumerateArray().ToList();
            Assert.Equal(4, snapshots.Count);
            var times = snapshots.Select(s => s.GetProperty("timestamp").GetDateTimeOffset()).ToList();
            Assert.Equal(times.Order().ToList(), times);

            // ?since= returns only newer snapshots.
            using var since = JsonDocument.Parse(await http.GetStringAsync("/api/v1/stats/history?since=" + Uri.EscapeDataString(times[^2].ToString("O"))));
            Assert.All(since.RootElement.GetProperty("snapshots").EnumerateArray(), s => Assert.True(s.GetProperty("timestamp").GetDateTimeOffset() > times[^2]));
        }
    }

    [Fact]
    public async Task Invalid_stats_settings_stop_the_start_with_a_message_naming_the_setting()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Stats:Window"] = "00:00:01", ["Gateway:Stats:Interval"] = "00:00:10" });
        });
        Assert.Contains("Gateway:Stats:Window", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Gateway:Stats:ClusterInterval", "00:00:00.010", null)]
    [InlineData("Gateway:Stats:ClusterInterval", "soon", null)]
    [InlineData("Gateway:Stats:ClusterForgetAfter", "00:00:10", "00:00:05")] // shorter than 3 intervals
    public async Task Invalid_cluster_view_settings_stop_the_start_with_a_message_naming_the_setting(string key, string value, string? interval)
    {
        var settings = new Dictionary<string, string?> { [key] = value };
        if (interval is not null)
        {
            settings["Gateway:Stats:ClusterInterval"] = interval;
        }

        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var server = await GatewayServer.StartAsync(settings);
        });
        Assert.Contains(key, error.ToString(), StringComparison.Ordinal);
    }
}
