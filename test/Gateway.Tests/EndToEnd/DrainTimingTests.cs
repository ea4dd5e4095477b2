using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using Gateway.Dispatch;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>
/// Issue 10 (6), docs/protocol.md §8.5: after GoAway messages keep flowing (new publishes on the draining node are
/// refused, issue 14 item 10); connections still open at the end of the
/// drain deadline are closed then (WebSocket 1001, TCP Error server_shutting_down), not right after GoAway.
/// </summary>
public sealed class DrainTimingTests
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(4);

    [Fact]
    public async Task Messages_keep_flowing_after_goaway_and_the_close_comes_at_the_drain_deadline()
    {
        await using var server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Drain:Timeout"] = "00:00:04",
            ["Gateway:Drain:ReconnectJitter"] = "00:00:01",
        });
        const string topic = "team:after-goaway";
        var (ws, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("drain-ws", subscribe: ["team:*"]));
        var (tcp, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("drain-tcp", subscribe: ["team:*"]), tcp: true);
        var (publisher, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("drain-pub", publish: ["team:*"]));
        await using var _w = ws;
        await using var _t = tcp;
        await using var _p = publisher;
        foreach (var subscriber in new[] { ws, tcp })
        {
            await subscriber.SendAsync(Frames.Subscribe(1, topic));
            Assert.Equal(FrameKind.Subscribed, (await subscriber.ReceiveAsync()).Kind);
        }

        using var http = server.CreateHttpClient();
        var clock = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsync("api/v1/admin/drain", null)).StatusCode);
        foreach (var client in new[] { ws, tcp, publisher })
        {
            Assert.Equal(FrameKind.GoAway, (await client.ReceiveAsync()).Kind);
        }

        // This node takes no new publishes while it drains (protocol: server_shutting_down; HTTP: 503)...
        await publisher.SendAsync(Frames.Publish(7, topic, "refused"));
        var refused = await publisher.ReceiveAsync();
        Assert.True(refused.ErrorCode == ErrorCode.ServerShuttingDown && refused.CorrelationId == 7, $"expected Error server_shutting_down 7, got {refused}");

        // ...but messages published elsewhere keep flowing to its connections after every GoAway went out. A publish on
        // another node reaches this node's dispatcher through the scale-out engine; here it is handed to it directly.
        var published = await server.GetRequiredService<Dispatcher>().PublishAsync(topic, Priority.Normal, "after goaway"u8.ToArray());
        Assert.Equal(ErrorCode.None, published.Error);
        foreach (var subscriber in new[] { ws, tcp })
        {
            var message = await subscriber.ReceiveAsync();
            Assert.True(message.Kind == FrameKind.Message && message.Offset == published.Offset, $"expected the message, got {message}");
            Assert.Equal("after goaway", message.PayloadText);
        }

        var (wsFrames, wsStatus) = await ws.ReadUntilClosedAsync(TimeSpan.FromSeconds(30));
        var wsClosedAfter = clock.Elapsed;
        var (tcpFrames, _) = await tcp.ReadUntilClosedAsync(TimeSpan.FromSeconds(30));
        var tcpClosedAfter = clock.Elapsed;

        Assert.Empty(wsFrames);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, wsStatus);
        var shutdown = Assert.Single(tcpFrames);
        Assert.Equal(ErrorCode.ServerShuttingDown, shutdown.ErrorCode);

        // The behaviour is a duration: the close comes at the deadline (measured from before the drain started, so
        // never early), with a wide upper margin for a loaded machine.
        Assert.InRange(wsClosedAfter, DrainTimeout - TimeSpan.FromMilliseconds(100), DrainTimeout + TimeSpan.FromSeconds(20));
        Assert.InRange(tcpClosedAfter, DrainTimeout - TimeSpan.FromMilliseconds(100), DrainTimeout + TimeSpan.FromSeconds(20));
    }
}
