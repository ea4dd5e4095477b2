using System.Net.Http.Json;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>A Refresh whose token allows less than the first one takes effect at once (issue 14 item 6), over real sockets.</summary>
public sealed class RefreshNarrowingTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private readonly GatewayServer _server = fixture.Server;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Refresh_that_narrows_subscribe_patterns_ends_the_subscriptions_it_no_longer_allows(bool tcp)
    {
        var id = Guid.NewGuid().ToString("N");
        var allowed = $"team:{id}-a";
        var revoked = $"team:{id}-b";
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("narrowed", subscribe: ["team:*"]), tcp);
        await using var _c = client;
        await client.SendAsync(Frames.Subscribe(1, allowed));
        Assert.Equal(FrameKind.Subscribed, (await client.ReceiveAsync()).Kind);
        await client.SendAsync(Frames.Subscribe(2, revoked));
        Assert.Equal(FrameKind.Subscribed, (await client.ReceiveAsync()).Kind);

        await client.SendAsync(w => FrameWriter.WriteRefresh(w, 9, GatewayServer.MintToken("narrowed", subscribe: [allowed])));
        var seen = new List<ReceivedFrame>();
        var refreshed = await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Refreshed, seen);
        Assert.Equal(9u, refreshed.CorrelationId);

        // The client is told which subscription ended and why (Error forbidden, correlation id 0), and gets the
        // Unsubscribed (correlation id 0) that ends the topic's stream.
        // The two come from different paths (the connection and the topic's worker): either may arrive first.
        ReceivedFrame? error = null, unsubscribed = null;
        while (error is null || unsubscribed is null)
        {
            var f = await client.ReceiveUntilAsync(f => f.Kind is FrameKind.Error or FrameKind.Unsubscribed, seen);
            if (f.Kind == FrameKind.Error)
            {
                Assert.Null(error);
                error = f;
            }
            else
            {
                Assert.Null(unsubscribed);
                unsubscribed = f;
            }
        }

        Assert.Equal(ErrorCode.Forbidden, error.ErrorCode);
        Assert.Equal(0u, error.CorrelationId);
        Assert.Contains(revoked, error.Text2, StringComparison.Ordinal);
        Assert.Contains("refreshed token", error.Text2, StringComparison.Ordinal);
        Assert.DoesNotContain(allowed, error.Text2, StringComparison.Ordinal);
        Assert.Equal(revoked, unsubscribed.Topic);
        Assert.Equal(0u, unsubscribed.CorrelationId);
        Assert.DoesNotContain(seen, f => f.Kind is FrameKind.Error or FrameKind.Unsubscribed);

        // Messages for the revoked topic no longer arrive; the still-allowed one keeps delivering.
        using var http = _server.CreateHttpClient();
        (await http.PostAsJsonAsync("api/v1/publish", new { topic = revoked, payload = "leak" })).EnsureSuccessStatusCode();
        (await http.PostAsJsonAsync("api/v1/publish", new { topic = allowed, payload = "kept" })).EnsureSuccessStatusCode();
        var skipped = new List<ReceivedFrame>();
        var kept = await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Message, skipped);
        Assert.Equal(allowed, kept.Topic);
        await client.SendAsync(w => FrameWriter.WritePing(w, 41));
        await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Pong, skipped);
        Assert.DoesNotContain(skipped, f => f.Kind == FrameKind.Message);

        // Subscribing again is refused like any subscription the token does not allow.
        await client.SendAsync(Frames.Subscribe(3, revoked));
        var refused = await client.ReceiveAsync();
        Assert.Equal(ErrorCode.Forbidden, refused.ErrorCode);
        Assert.Equal(3u, refused.CorrelationId);
    }

    [Fact]
    public async Task Refresh_that_keeps_every_subscription_sends_nothing_but_refreshed()
    {
        var topic = $"team:{Guid.NewGuid():N}";
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("unchanged", subscribe: ["team:*"]));
        await using var _c = client;
        await client.SendAsync(Frames.Subscribe(1, topic));
        Assert.Equal(FrameKind.Subscribed, (await client.ReceiveAsync()).Kind);
        await client.SendAsync(w => FrameWriter.WriteRefresh(w, 2, GatewayServer.MintToken("unchanged", subscribe: [topic])));
        Assert.Equal(FrameKind.Refreshed, (await client.ReceiveAsync()).Kind);
        await client.SendAsync(w => FrameWriter.WritePing(w, 5));
        Assert.Equal(FrameKind.Pong, (await client.ReceiveAsync()).Kind);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Refresh_that_narrows_publish_patterns_refuses_publishing_at_once(bool tcp)
    {
        var id = Guid.NewGuid().ToString("N");
        var allowed = $"team:{id}-a";
        var revoked = $"team:{id}-b";
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("publisher", publish: ["team:*"]), tcp);
        await using var _c = client;

        // Publishing once first puts the topic, with its permission, in the connection's topic cache.
        await client.SendAsync(Frames.Publish(1, revoked, "before"));
        Assert.Equal(FrameKind.PublishAck, (await client.ReceiveAsync()).Kind);

        await client.SendAsync(w => FrameWriter.WriteRefresh(w, 2, GatewayServer.MintToken("publisher", publish: [allowed])));
        Assert.Equal(FrameKind.Refreshed, (await client.ReceiveAsync()).Kind);

        await client.SendAsync(Frames.Publish(3, revoked, "after"));
        var refused = await client.ReceiveAsync();
        Assert.Equal(FrameKind.Error, refused.Kind);
        Assert.Equal(ErrorCode.Forbidden, refused.ErrorCode);
        Assert.Equal(3u, refused.CorrelationId);

        await client.SendAsync(Frames.Publish(4, allowed, "still"));
        var ack = await client.ReceiveAsync();
        Assert.Equal(FrameKind.PublishAck, ack.Kind);
        Assert.Equal(4u, ack.CorrelationId);
    }
}
