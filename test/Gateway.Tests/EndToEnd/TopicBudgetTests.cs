using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Gateway.Protocol;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>
/// <c>Gateway:Dispatch:Budget</c> over real sockets: an idle topic evicted under the topic budget answers a
/// recovery with RecoveryFailed (never silently), and a new topic that cannot fit because every topic is live is
/// refused by the HTTP API with 503 problem+json <c>overloaded</c>; the budget's metrics show both.
/// </summary>
public sealed class TopicBudgetTests
{
    [Fact]
    public async Task An_evicted_topic_reports_RecoveryFailed_and_a_new_topic_over_the_limit_gets_503_overloaded()
    {
        await using var server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Dispatch:Budget:MaxTopics"] = "3",
            ["Gateway:Dispatch:Budget:EvictAbovePercent"] = "50", // evict idle topics above 1 topic
        });
        var (client, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("alice", subscribe: ["team:*"]));
        await using var _client = client;
        using var http = server.CreateHttpClient();

        // Two messages to a topic nobody subscribes to: idle, so the workers evict it (user:alice is live).
        var first = await PublishAsync(http, "team:idle");
        await PublishAsync(http, "team:idle");
        var deadline = DateTime.UtcNow + TestClient.DefaultTimeout;
        while (await SampleAsync(http, "gateway_dispatch_budget_evictions_total{kind=\"topic\"}") < 1)
        {
            Assert.True(DateTime.UtcNow < deadline, "the idle topic was not evicted");
            await Task.Delay(20);
        }

        // Recovering from offset 1 would replay offset 2 had the topic been kept; evicted, it fails explicitly.
        await client.SendAsync(Frames.Subscribe(5, "team:idle", new StreamPosition(first.Epoch, first.Offset)));
        var subscribed = await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Subscribed);
        Assert.Equal(5u, subscribed.CorrelationId);
        Assert.Equal(FrameFlags.RecoveryFailed, subscribed.Flags);
        Assert.NotEqual(first.Epoch, subscribed.Epoch);

        // Three live topics (user:alice, team:idle, team:live) fill the budget; nothing is evictable.
        await client.SendAsync(Frames.Subscribe(6, "team:live"));
        Assert.Equal(FrameFlags.None, (await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Subscribed && f.CorrelationId == 6)).Flags);

        var refused = await http.PostAsJsonAsync("api/v1/publish", new { topic = "team:new", payload = 1 });
        var text = await refused.Content.ReadAsStringAsync();
        Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, $"expected 503, got {(int)refused.StatusCode}: {text}");
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal("overloaded", JsonDocument.Parse(text).RootElement.GetProperty("error").GetString());

        // The live topics still work, and the refusal and the use are visible in /metrics.
        var live = await PublishAsync(http, "team:live");
        Assert.Equal(1ul, (await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Message && f.Topic == "team:live")).Offset);
        Assert.Equal(1ul, live.Offset);
        Assert.True(await SampleAsync(http, "gateway_dispatch_budget_refusals_total{reason=\"topics\"}") >= 1);
        Assert.Equal(3, await SampleAsync(http, "gateway_dispatch_budget_used{budget=\"topics\"}"));
        Assert.Equal(3, await SampleAsync(http, "gateway_dispatch_budget_limit{budget=\"topics\"}"));
    }

    private static async Task<(ulong Epoch, ulong Offset)> PublishAsync(HttpClient http, string topic)
    {
        var response = await http.PostAsJsonAsync("api/v1/publish", new { topic, payload = 1 });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var result = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (result.GetProperty("epoch").GetUInt64(), result.GetProperty("offset").GetUInt64());
    }

    /// <summary>The value of the first /metrics sample whose line starts with <paramref name="series"/> (-1 when absent).</summary>
    private static async Task<double> SampleAsync(HttpClient http, string series)
    {
        var body = await http.GetStringAsync("/metrics");
        foreach (var line in body.Split('\n'))
        {
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return -1;
    }
}
