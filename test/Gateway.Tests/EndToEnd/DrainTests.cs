using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using Gateway.Hosting;
using Gateway.Protocol.Errors;
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

    [Fact]
    public async Task Publishes_on_the_protocol_are_refused_while_draining_acked_with_server_shutting_down_others_dropped_and_counted()
    {
        // A long drain deadline keeps the connections open (usable after GoAway); disposing the clients ends it early.
        await using var server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Drain:Timeout"] = "00:00:30" });
        const string topic = "team:drain-publish";
        long refused = 0;
        var meters = server.GetRequiredService<IMeterFactory>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // Only this server's meter: other tests' servers run in the same process.
            if (instrument.Meter.Scope == meters && instrument.Name == "gateway.publish.refused")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            if (tags.Length == 1 && tags[0].Key == "reason" && (string?)tags[0].Value == "draining")
            {
                Interlocked.Add(ref refused, value);
            }
        });
        listener.Start();

        var (publisher, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("drain-publisher", publish: ["team:*"]), tcp: true);
        var (subscriber, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("drain-subscriber", subscribe: ["team:*"]));
        var (observer, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("drain-observer", subscribe: ["team:*"]));
        await using var _p = publisher;
        await using var _s = subscriber;
        await using var _o = observer;
        await subscriber.SendAsync(Frames.Subscribe(1, topic));
        Assert.Equal(FrameKind.Subscribed, (await subscriber.ReceiveAsync()).Kind);

        // Before the drain a publish is acknowledged and delivered.
        await publisher.SendAsync(Frames.Publish(1, topic, "before"));
        var ack = await publisher.ReceiveAsync();
        Assert.Equal(FrameKind.PublishAck, ack.Kind);
        Assert.Equal(ack.Offset, (await subscriber.ReceiveAsync()).Offset);

        using var http = server.CreateHttpClient();
        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync("api/v1/admin/drain", null)).StatusCode);
        Assert.Equal(FrameKind.GoAway, (await publisher.ReceiveAsync()).Kind);

        // During the drain: fire-and-forget (correlation 0) is dropped without an answer; with a correlation id the
        // answer is the retryable Error server_shutting_down carrying that id, never a PublishAck.
        await publisher.SendAsync(Frames.Publish(0, topic, "dropped"));
        await publisher.SendAsync(Frames.Publish(7, topic, "refused"));
        var error = await publisher.ReceiveAsync();
        Assert.Equal(FrameKind.Error, error.Kind);
        Assert.Equal(ErrorCode.ServerShuttingDown, error.ErrorCode);
        Assert.Equal(7u, error.CorrelationId);
        Assert.True(ErrorCatalog.Get(ErrorCode.ServerShuttingDown).Retryable);
        Assert.Equal(2, Interlocked.Read(ref refused));

        // Nothing was published: the subscriber gets no message and the topic's position is still the pre-drain one.
        await observer.SendAsync(Frames.Subscribe(2, topic));
        var observed = new List<ReceivedFrame>();
        var subscribed = await observer.ReceiveUntilAsync(f => f.Kind == FrameKind.Subscribed, observed);
        Assert.Equal((ack.Epoch, ack.Offset), (subscribed.Epoch, subscribed.Offset));
        await subscriber.SendAsync(w => FrameWriter.WritePing(w, 42));
        var received = new List<ReceivedFrame>();
        await subscriber.ReceiveUntilAsync(f => f.Kind == FrameKind.Pong, received);
        Assert.DoesNotContain(received, f => f.Kind == FrameKind.Message);

        // The connection stays usable after the refusals, and the HTTP API refuses the same way (503 server_shutting_down).
        await publisher.SendAsync(w => FrameWriter.WritePing(w, 43));
        Assert.Equal(FrameKind.Pong, (await publisher.ReceiveAsync()).Kind);
        var viaHttp = await http.PostAsJsonAsync("api/v1/publish", new { topic, payload = 1 });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, viaHttp.StatusCode);
        Assert.Contains("server_shutting_down", await viaHttp.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
