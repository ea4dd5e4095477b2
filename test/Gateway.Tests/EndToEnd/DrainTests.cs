using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using Gateway.Hosting;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>
/// Graceful drain (§6): a client connected during the drain receives every message acknowledged
/// before it began, then GoAway, then a normal close; new connections are refused meanwhile.
/// Each test owns its server (a drain is final).
/// </summary>
public sealed class DrainTests
{
    [Fact]
    public async Task Drain_via_api_delivers_everything_acknowledged_then_goaway_then_close_1001()
    {
        await using var server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Drain:ReconnectJitter"] = "00:00:02" });
        var topic = "team:drain";
        var (client, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("stayer", subscribe: ["team:*"]));
        var (tcpClient, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("stayer2", subscribe: ["team:*"]), tcp: true);
        await using var _c = client;
        await using var _t = tcpClient;
        foreach (var c in new[] { client, tcpClient })
        {
            await c.SendAsync(Frames.Subscribe(1, topic));
            Assert.Equal(FrameKind.Subscribed, (await c.ReceiveAsync()).Kind);
        }

        using var http = server.CreateHttpClient();
        var acknowledged = new List<ulong>();
        for (var batch = 0; batch < 5; batch++)
        {
            var messages = Enumerable.Range(0, 100).Select(i => new { topic, payload = (batch * 100) + i }).ToArray();
            var response = await http.PostAsJsonAsync("api/v1/batch", new { messages });
            response.EnsureSuccessStatusCode();
            var results = (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("results");
            acknowledged.AddRange(results.EnumerateArray().Select(r => r.GetProperty("offset").GetUInt64()));
        }

        var drain = await http.PostAsync("api/v1/admin/drain", null);
        Assert.Equal(HttpStatusCode.Accepted, drain.StatusCode);
        Assert.True(server.GetRequiredService<GatewayLifetime>().IsDraining);

        foreach (var c in new[] { client, tcpClient })
        {
            var (frames, status) = await c.ReadUntilClosedAsync(TimeSpan.FromSeconds(30));
            var messages = frames.Where(f => f.Kind == FrameKind.Message).Select(f => f.Offset).ToList();
            Assert.Equal(acknowledged, messages);
            if (c == client)
            {
                Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, status);
            }
            else
            {
                // TCP has no close codes: the close at the end of the drain is told with an Error frame.
                Assert.Equal(Gateway.Protocol.Errors.ErrorCode.ServerShuttingDown, frames[^1].ErrorCode);
                frames.RemoveAt(frames.Count - 1);
            }

            var goAway = frames.Last();
            Assert.Equal(FrameKind.GoAway, goAway.Kind);
            Assert.InRange(goAway.Milliseconds, 0u, 2000u);
        }

        // New connections and publishes are refused while draining.
        var refused = await Assert.ThrowsAsync<WebSocketException>(() => TestClient.OpenWebSocketAsync(server));
        Assert.Contains("503", refused.Message, StringComparison.Ordinal);
        var publish = await http.PostAsJsonAsync("api/v1/publish", new { topic, payload = 1 });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, publish.StatusCode);
    }

    [Fact]
    public async Task Host_shutdown_drains_connections_before_stopping()
    {
        var server = await GatewayServer.StartAsync();
        await using var _s = server;
        var (client, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("sigterm", subscribe: ["team:*"]));
        await using var _c = client;
        await client.SendAsync(Frames.Subscribe(1, "team:stop"));
        Assert.Equal(FrameKind.Subscribed, (await client.ReceiveAsync()).Kind);
        using var http = server.CreateHttpClient();
        var ack = await (await http.PostAsJsonAsync("api/v1/publish", new { topic = "team:stop", payload = "last" })).Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();

        // What SIGTERM does: stop the host (IHostApplicationLifetime.StopApplication → StoppingAsync → drain).
        var stopping = server.App.StopAsync();
        var (frames, status) = await client.ReadUntilClosedAsync(TimeSpan.FromSeconds(30));
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(ack.GetProperty("offset").GetUInt64(), frames.Single(f => f.Kind == FrameKind.Message).Offset);
        Assert.Equal(FrameKind.GoAway, frames.Last().Kind);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, status);
    }
}
