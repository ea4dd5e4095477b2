using System.Text;
using Gateway.Client.Tests.Infrastructure;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Client.Tests;

/// <summary>The client against the real gateway (in-process, real sockets), over WebSocket and raw TCP.</summary>
[Collection(GatewayCollection.Name)]
public sealed class ClientSessionTests : IClassFixture<GatewayFixture>
{
    private readonly TestGateway _gateway;

    public ClientSessionTests(GatewayFixture fixture) => _gateway = fixture.Gateway;

    public static TheoryData<string> Transports => new() { "ws", "tcp" };

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Connect_reports_the_session(string transport)
    {
        var token = _gateway.Token($"alice-{transport}");
        await using var client = await GatewayClient.ConnectAsync(_gateway.Options(transport, token));

        Assert.Equal(ConnectionState.Connected, client.State);
        var info = client.Connection!;
        Assert.Equal($"alice-{transport}", info.UserId);
        Assert.Equal("node-shared", info.NodeId);
        Assert.False(string.IsNullOrEmpty(info.ConnectionId));
        Assert.True(info.HeartbeatInterval > TimeSpan.Zero);
        Assert.True(info.MaxFrameLength >= 1024);
        Assert.Equal(_gateway.EndpointFor(transport), info.Endpoint);
        Assert.Equal($"user:alice-{transport}", client.Notifications.Topic);

        var rtt = await client.PingAsync();
        Assert.True(rtt >= TimeSpan.Zero && rtt < TestWait.Timeout);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_token_signed_with_another_key_is_refused_as_unauthorized(string transport)
    {
        var forged = TestKeys.Create().Token("mallory");
        var error = await Assert.ThrowsAsync<GatewayException>(() => GatewayClient.ConnectAsync(_gateway.Options(transport, forged)));

        Assert.Equal(ErrorCode.Unauthorized, error.Code);
        Assert.Equal("unauthorized", error.ErrorName);
        Assert.False(error.IsRetryable);
        Assert.IsNotType<GatewayConnectionException>(error);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task An_expired_token_is_refused_with_a_session_error(string transport)
    {
        var expired = _gateway.Token("old", lifetime: TimeSpan.FromMinutes(-10));
        var error = await Assert.ThrowsAsync<GatewayException>(() => GatewayClient.ConnectAsync(_gateway.Options(transport, expired)));

        Assert.Contains(error.Code, new[] { ErrorCode.TokenExpired, ErrorCode.Unauthorized });
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Subscriber_receives_what_another_client_publishes_at_the_acked_position(string transport)
    {
        var topic = $"team:42/{transport}-alerts";
        var token = _gateway.Token($"bob-{transport}", subscribe: ["team:*"], publish: ["team:*"]);
        await using var subscriber = await GatewayClient.ConnectAsync(_gateway.Options(transport, token));
        await using var publisher = await GatewayClient.ConnectAsync(_gateway.Options(transport, token));
        await using var subscription = await subscriber.SubscribeAsync(topic);
        Assert.Equal(SubscriptionRecovery.None, subscription.Recovery);

        var first = await publisher.PublishAsync(topic, "disk full", Priority.High);
        var second = await publisher.PublishAsync(topic, Encoding.UTF8.GetBytes("disk ok"), Priority.Low);

        Assert.Equal(topic, first.Topic);
        Assert.Equal(first.Epoch, second.Epoch);
        Assert.Equal(first.Offset + 1, second.Offset);

        var received = await subscription.NextAsync(2);
        Assert.Equal(["disk full", "disk ok"], received.Select(m => m.GetString()));
        Assert.Equal([first.Position, second.Position], received.Select(m => m.Position));
        Assert.Equal([Priority.High, Priority.Low], received.Select(m => m.Priority));
        Assert.All(received, m => Assert.Equal(GatewayMessageKind.Live, m.Kind));
        Assert.All(received, m => Assert.Equal(0UL, m.MissedBefore));
        Assert.All(received, m => Assert.InRange(m.Timestamp, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5)));
        Assert.Equal(second.Position, subscription.Position);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Publish_without_permission_throws_forbidden_and_the_connection_stays_usable(string transport)
    {
        var token = _gateway.Token($"reader-{transport}", subscribe: ["team:*"]);
        await using var client = await GatewayClient.ConnectAsync(_gateway.Options(transport, token));

        var error = await Assert.ThrowsAsync<GatewayException>(() => client.PublishAsync("team:42/alerts", "nope"));
        Assert.Equal(ErrorCode.Forbidden, error.Code);
        Assert.False(error.IsRetryable);
        Assert.False(error.IsFatal);
        Assert.NotEqual(0u, error.CorrelationId);

        var subscribeError = await Assert.ThrowsAsync<GatewayException>(() => client.SubscribeAsync("secret:vault"));
        Assert.Equal(ErrorCode.Forbidden, subscribeError.Code);

        await client.PingAsync();
        await using var allowed = await client.SubscribeAsync($"team:{transport}-still-works");
        Assert.Equal(ConnectionState.Connected, client.State);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Invalid_topic_and_oversized_payload_are_refused_before_sending(string transport)
    {
        var token = _gateway.Token($"sloppy-{transport}", publish: ["team:*"]);
        await using var client = await GatewayClient.ConnectAsync(_gateway.Options(transport, token));

        var badTopic = await Assert.ThrowsAsync<GatewayException>(() => client.PublishAsync("team:a b", "x"));
        Assert.Equal(ErrorCode.InvalidTopic, badTopic.Code);

        var tooBig = new byte[client.Connection!.MaxFrameLength + 1];
        var tooLarge = await Assert.ThrowsAsync<GatewayException>(() => client.PublishAsync("team:big", tooBig));
        Assert.Equal(ErrorCode.PayloadTooLarge, tooLarge.Code);

        // Nothing malformed reached the gateway: the connection is still up.
        await client.PingAsync();
        Assert.Equal(ConnectionState.Connected, client.State);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Workflow_subscriber_gets_the_retained_state_then_live_updates(string transport)
    {
        var id = $"wf-{transport}-{Guid.NewGuid():N}"[..20];
        var topic = "workflow:" + id;
        await _gateway.PostOkAsync($"/api/v1/workflows/{id}", new { payload = new { step = 1, state = "running" } });
        var latest = await _gateway.PostOkAsync($"/api/v1/workflows/{id}", new { payload = new { step = 2, state = "running" } });

        var token = _gateway.Token($"watcher-{transport}", subscribe: ["workflow:*"]);
        await using var client = await GatewayClient.ConnectAsync(_gateway.Options(transport, token));
        await using var subscription = await client.SubscribeAsync(topic);

        var retained = await subscription.NextAsync();
        Assert.Equal(GatewayMessageKind.Retained, retained.Kind);
        Assert.Contains("\"step\":2", retained.GetString().Replace(" ", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(latest.GetProperty("offset").GetUInt64(), retained.Offset);

        var done = await _gateway.PostOkAsync($"/api/v1/workflows/{id}", new { payload = new { step = 3, state = "done" } });
        var live = await subscription.NextAsync();
        Assert.Equal(GatewayMessageKind.Live, live.Kind);
        Assert.Equal(done.GetProperty("offset").GetUInt64(), live.Offset);
        Assert.Equal(retained.Offset + 1, live.Offset);
        Assert.Contains("done", live.GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Notifications_are_redelivered_until_acked(string transport)
    {
        var user = $"nina-{transport}-{Guid.NewGuid():N}"[..16];
        var first = await _gateway.PostOkAsync("/api/v1/notify", new { user, payload = "invoice ready" });
        var second = await _gateway.PostOkAsync("/api/v1/notify", new { user, payload = "build failed" });
        var token = _gateway.Token(user);

        // First session: both pending notifications arrive; only the first is acked.
        await using (var session = await GatewayClient.ConnectAsync(_gateway.Options(transport, token)))
        {
            var items = await session.Notifications.NextAsync(2);
            Assert.Equal([first.GetProperty("offset").GetUInt64(), second.GetProperty("offset").GetUInt64()], items.Select(m => m.Offset));
            Assert.All(items, m => Assert.True(m.IsNotification));
            await session.AckAsync(items[0]);

            // A round trip after the ack: the gateway has processed it before this session ends.
            await session.PingAsync();
        }

        // Second session: only the unacked one comes back, replayed.
        await using (var session = await GatewayClient.ConnectAsync(_gateway.Options(transport, token)))
        {
            var again = await session.Notifications.NextAsync();
            Assert.Equal(second.GetProperty("offset").GetUInt64(), again.Offset);
            Assert.Equal(GatewayMessageKind.Replayed, again.Kind);
            await session.Notifications.AckAsync(again);

            var third = await _gateway.PostOkAsync("/api/v1/notify", new { user, payload = "deploy done" });
            var live = await session.Notifications.NextAsync();
            Assert.Equal(third.GetProperty("offset").GetUInt64(), live.Offset);
            Assert.Equal(GatewayMessageKind.Live, live.Kind);
            await session.AckAsync(live);
            await session.PingAsync();
        }

        // Third session: everything acked; the first item is a new one.
        await using (var session = await GatewayClient.ConnectAsync(_gateway.Options(transport, token)))
        {
            var fourth = await _gateway.PostOkAsync("/api/v1/notify", new { user, payload = "fresh" });
            var next = await session.Notifications.NextAsync();
            Assert.Equal(fourth.GetProperty("offset").GetUInt64(), next.Offset);
        }
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Broadcasts_arrive_without_subscribing(string transport)
    {
        await using var client = await GatewayClient.ConnectAsync(_gateway.Options(transport, _gateway.Token($"everyone-{transport}")));
        var marker = $"maintenance-{transport}-{Guid.NewGuid():N}";
        await _gateway.PostOkAsync("/api/v1/broadcast", new { payload = marker });

        // Other tests may broadcast too: read until ours arrives.
        GatewayMessage message;
        do
        {
            message = await client.Broadcasts.NextAsync();
        }
        while (!message.GetString().Contains(marker, StringComparison.Ordinal));

        Assert.Equal("broadcast", message.Topic);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task An_unreachable_first_endpoint_fails_over_to_the_next(string transport)
    {
        var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var deadPort = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        var dead = transport == "tcp" ? new Uri($"tcp://127.0.0.1:{deadPort}") : new Uri($"ws://127.0.0.1:{deadPort}/ws");

        var options = _gateway.Options(transport, _gateway.Token($"failover-{transport}")) with { Endpoints = [dead, _gateway.EndpointFor(transport)] };
        await using var client = await GatewayClient.ConnectAsync(options);

        Assert.Equal(_gateway.EndpointFor(transport), client.Connection!.Endpoint);
        await client.PingAsync();
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_persisted_position_resumes_in_a_new_client_with_the_missed_messages(string transport)
    {
        var topic = $"team:{transport}-resume-{Guid.NewGuid():N}"[..30];
        var token = _gateway.Token($"resumer-{transport}", subscribe: ["team:*"], publish: ["team:*"]);
        await using var publisher = await GatewayClient.ConnectAsync(_gateway.Options(transport, token));

        Gateway.Protocol.StreamPosition saved;
        await using (var first = await GatewayClient.ConnectAsync(_gateway.Options(transport, token)))
        {
            await using var subscription = await first.SubscribeAsync(topic);
            await publisher.PublishAsync(topic, "a");
            await publisher.PublishAsync(topic, "b");
            Assert.Equal(["a", "b"], (await subscription.NextAsync(2)).Select(m => m.GetString()));
            saved = subscription.Position!.Value;
        }

        await publisher.PublishAsync(topic, "c");
        await publisher.PublishAsync(topic, "d");

        await using var second = await GatewayClient.ConnectAsync(_gateway.Options(transport, token));
        await using var resumed = await second.SubscribeAsync(topic, saved);
        Assert.Equal(SubscriptionRecovery.Recovered, resumed.Recovery);
        var missed = await resumed.NextAsync(2);
        Assert.Equal(["c", "d"], missed.Select(m => m.GetString()));
        Assert.All(missed, m => Assert.Equal(GatewayMessageKind.Replayed, m.Kind));
        Assert.Equal(saved.Offset + 1, missed[0].Offset);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Unsubscribe_ends_the_enumeration(string transport)
    {
        var topic = $"team:{transport}-leaving";
        var token = _gateway.Token($"leaver-{transport}", subscribe: ["team:*"], publish: ["team:*"]);
        await using var client = await GatewayClient.ConnectAsync(_gateway.Options(transport, token));
        var subscription = await client.SubscribeAsync(topic);
        await client.PublishAsync(topic, "one");
        Assert.Equal("one", (await subscription.NextAsync()).GetString());

        await subscription.UnsubscribeAsync();
        var count = 0;
        await foreach (var unused in subscription)
        {
            count++;
        }

        Assert.Equal(0, count);

        // The same topic can be subscribed again afterwards.
        await using var again = await client.SubscribeAsync(topic);
        await client.PublishAsync(topic, "two");
        Assert.Equal("two", (await again.NextAsync()).GetString());
    }
}
