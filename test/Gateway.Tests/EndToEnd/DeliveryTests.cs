using System.Net.Http.Json;
using System.Text.Json;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>§3 semantics end to end through real sockets (one server for the class).</summary>
public sealed class DeliveryTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private readonly GatewayServer _server = fixture.Server;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Subscribe_publish_receive_with_publish_ack(bool tcp)
    {
        var topic = $"team:{Guid.NewGuid():N}/alerts";
        var token = GatewayServer.MintToken("alice", subscribe: ["team:*"], publish: ["team:*"]);
        var (client, connected) = await TestClient.ConnectAsync(_server, token, tcp);
        await using var _ = client;
        Assert.Equal("alice", connected.Text3);
        Assert.Equal("test-node", connected.Text2);
        Assert.False(string.IsNullOrEmpty(connected.Text1));

        await client.SendAsync(Frames.Subscribe(1, topic));
        var subscribed = await client.ReceiveAsync();
        Assert.Equal(FrameKind.Subscribed, subscribed.Kind);
        Assert.Equal(1u, subscribed.CorrelationId);

        await client.SendAsync(Frames.Publish(2, topic, "hello"));
        var frames = new List<ReceivedFrame> { await client.ReceiveAsync(), await client.ReceiveAsync() };
        var ack = Assert.Single(frames, f => f.Kind == FrameKind.PublishAck);
        var message = Assert.Single(frames, f => f.Kind == FrameKind.Message);
        Assert.Equal(2u, ack.CorrelationId);
        Assert.Equal(topic, message.Topic);
        Assert.Equal("hello", message.PayloadText);
        Assert.Equal(ack.Offset, message.Offset);
        Assert.Equal(ack.Epoch, message.Epoch);
    }

    [Fact]
    public async Task Http_publish_reaches_websocket_and_tcp_subscribers_with_the_returned_offset()
    {
        var topic = $"team:{Guid.NewGuid():N}";
        var token = GatewayServer.MintToken("bob", subscribe: ["team:*"]);
        var (ws, _) = await TestClient.ConnectAsync(_server, token);
        var (tcp, _) = await TestClient.ConnectAsync(_server, token, tcp: true);
        await using var a = ws;
        await using var b = tcp;
        foreach (var client in new[] { ws, tcp })
        {
            await client.SendAsync(Frames.Subscribe(7, topic));
            Assert.Equal(FrameKind.Subscribed, (await client.ReceiveAsync()).Kind);
        }

        using var http = _server.CreateHttpClient();
        var response = await http.PostAsJsonAsync("api/v1/publish", new { topic, payload = new { n = 42 }, priority = "high" });
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var offset = body.GetProperty("offset").GetUInt64();

        foreach (var client in new[] { ws, tcp })
        {
            var message = await client.ReceiveAsync();
            Assert.Equal(FrameKind.Message, message.Kind);
            Assert.Equal(offset, message.Offset);
            Assert.Equal(Priority.High, message.Priority);
            Assert.Equal("""{"n":42}""", message.PayloadText);
        }
    }

    [Fact]
    public async Task Broadcast_reaches_connections_that_never_subscribed()
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("carol"));
        await using var _c = client;
        using var http = _server.CreateHttpClient();
        var marker = Guid.NewGuid().ToString("N");
        (await http.PostAsJsonAsync("api/v1/broadcast", new { payload = marker })).EnsureSuccessStatusCode();
        var message = await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Message && f.PayloadText.Contains(marker, StringComparison.Ordinal));
        Assert.Equal("broadcast", message.Topic);
    }

    [Fact]
    public async Task Workflow_subscriber_gets_the_retained_state_then_live_updates()
    {
        var id = Guid.NewGuid().ToString("N");
        using var http = _server.CreateHttpClient();
        (await http.PostAsJsonAsync($"api/v1/workflows/{id}", new { payload = new { step = 1 } })).EnsureSuccessStatusCode();
        (await http.PostAsJsonAsync($"api/v1/workflows/{id}", new { payload = new { step = 2 } })).EnsureSuccessStatusCode();

        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("dave", subscribe: ["workflow:*"]));
        await using var _c = client;
        await client.SendAsync(Frames.Subscribe(1, "workflow:" + id));
        Assert.Equal(FrameKind.Subscribed, (await client.ReceiveAsync()).Kind);
        var retained = await client.ReceiveAsync();
        Assert.Equal(FrameKind.Message, retained.Kind);
        Assert.True(retained.Flags.HasFlag(FrameFlags.Retained));
        Assert.Equal("""{"step":2}""", retained.PayloadText);

        (await http.PostAsJsonAsync($"api/v1/workflows/{id}", new { payload = new { step = 3 } })).EnsureSuccessStatusCode();
        var live = await client.ReceiveAsync();
        Assert.Equal("""{"step":3}""", live.PayloadText);
        Assert.Equal(FrameFlags.None, live.Flags);
        Assert.True(live.Offset > retained.Offset);
    }

    [Fact]
    public async Task Resubscribe_with_position_recovers_missed_messages_without_gap_or_duplicate()
    {
        var topic = $"team:{Guid.NewGuid():N}";
        var token = GatewayServer.MintToken("erin", subscribe: ["team:*"]);
        using var http = _server.CreateHttpClient();

        var (first, _) = await TestClient.ConnectAsync(_server, token);
        await first.SendAsync(Frames.Subscribe(1, topic));
        Assert.Equal(FrameKind.Subscribed, (await first.ReceiveAsync()).Kind);
        for (var i = 1; i <= 3; i++)
        {
            (await http.PostAsJsonAsync("api/v1/publish", new { topic, payload = i })).EnsureSuccessStatusCode();
        }

        ReceivedFrame last = null!;
        for (var i = 1; i <= 3; i++)
        {
            last = await first.ReceiveAsync();
            Assert.Equal(i.ToString(System.Globalization.CultureInfo.InvariantCulture), last.PayloadText);
        }

        await first.DisposeAsync();
        for (var i = 4; i <= 6; i++)
        {
            (await http.PostAsJsonAsync("api/v1/publish", new { topic, payload = i })).EnsureSuccessStatusCode();
        }

        var (second, _) = await TestClient.ConnectAsync(_server, token);
        await using var _s = second;
        await second.SendAsync(Frames.Subscribe(2, topic, new StreamPosition(last.Epoch, last.Offset)));
        var subscribed = await second.ReceiveAsync();
        Assert.Equal(FrameKind.Subscribed, subscribed.Kind);
        Assert.True(subscribed.Flags.HasFlag(FrameFlags.Recovered), subscribed.ToString());

        var recovered = new List<ReceivedFrame>();
        for (var i = 0; i < 3; i++)
        {
            recovered.Add(await second.ReceiveAsync());
        }

        (await http.PostAsJsonAsync("api/v1/publish", new { topic, payload = 7 })).EnsureSuccessStatusCode();
        recovered.Add(await second.ReceiveAsync());
        Assert.Equal(["4", "5", "6", "7"], recovered.Select(f => f.PayloadText));
        Assert.Equal(Enumerable.Range(1, 4).Select(i => last.Offset + (ulong)i), recovered.Select(f => f.Offset));
    }

    [Fact]
    public async Task Notifications_are_redelivered_after_reconnect_until_acked()
    {
        var user = "frank-" + Guid.NewGuid().ToString("N")[..8];
        var token = GatewayServer.MintToken(user);
        using var http = _server.CreateHttpClient();
        (await http.PostAsJsonAsync("api/v1/notify", new { user, payload = "n1" })).EnsureSuccessStatusCode();

        // First connection receives it (replayed as pending) but does not ack.
        var (first, _) = await TestClient.ConnectAsync(_server, token);
        var pending = await first.ReceiveUntilAsync(f => f.Kind == FrameKind.Message);
        Assert.Equal("user:" + user, pending.Topic);
        Assert.Equal("\"n1\"", pending.PayloadText);
        await first.DisposeAsync();

        // Second connection gets it again, acks it.
        var (second, _) = await TestClient.ConnectAsync(_server, token);
        var again = await second.ReceiveUntilAsync(f => f.Kind == FrameKind.Message);
        Assert.Equal(pending.Offset, again.Offset);
        Assert.True(again.Flags.HasFlag(FrameFlags.Replayed));
        await second.SendAsync(Frames.Ack(again.Topic, again.Offset));

        // Publish a marker after the ack: the third connection must see the marker but not n1.
        (await http.PostAsJsonAsync("api/v1/notify", new { user, payload = "n2" })).EnsureSuccessStatusCode();
        var live = await second.ReceiveUntilAsync(f => f.Kind == FrameKind.Message);
        Assert.Equal("\"n2\"", live.PayloadText);
        await second.DisposeAsync();

        var (third, _) = await TestClient.ConnectAsync(_server, token);
        await using var _t = third;
        var next = await third.ReceiveUntilAsync(f => f.Kind == FrameKind.Message);
        Assert.Equal("\"n2\"", next.PayloadText);
    }

    [Fact]
    public async Task Subscribing_to_another_users_topic_is_forbidden_with_the_correlation_id_and_the_connection_stays()
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("gina", subscribe: ["*"]));
        await using var _c = client;
        await client.SendAsync(Frames.Subscribe(99, "user:someone-else"));
        var error = await client.ReceiveAsync();
        Assert.Equal(FrameKind.Error, error.Kind);
        Assert.Equal(ErrorCode.Forbidden, error.ErrorCode);
        Assert.Equal(99u, error.CorrelationId);

        await client.SendAsync(Frames.Publish(100, "team:x", "nope"));
        var publishError = await client.ReceiveAsync();
        Assert.Equal(ErrorCode.Forbidden, publishError.ErrorCode);
        Assert.Equal(100u, publishError.CorrelationId);

        await client.SendAsync(w => FrameWriter.WritePing(w, 12345));
        var pong = await client.ReceiveAsync();
        Assert.Equal(FrameKind.Pong, pong.Kind);
        Assert.Equal(12345, pong.Value);
    }
}
