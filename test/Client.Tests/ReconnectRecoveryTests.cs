using Gateway.Client.Tests.Infrastructure;

namespace Gateway.Client.Tests;

/// <summary>
/// Failures between the client and real gateways: a network drop (through a TCP proxy that resets the
/// connection and refuses new ones for a while), a node restart (history gone), and a drain (GoAway).
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class ReconnectRecoveryTests
{
    public static TheoryData<string> Transports => new() { "ws", "tcp" };

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task After_a_network_drop_the_client_reconnects_and_recovers_every_missed_message_once(string transport)
    {
        await using var gateway = await TestGateway.StartAsync(nodeId: "node-drop");
        await using var proxy = new TcpProxy(transport == "tcp" ? gateway.TcpPort : gateway.HttpPort);
        var token = gateway.Token("carol", subscribe: ["team:*"], publish: ["team:*"]);
        var topic = $"team:7/{transport}-stream";

        await using var subscriber = await GatewayClient.ConnectAsync(gateway.Options(transport, token) with { Endpoints = [proxy.UriFor(transport)] });
        await using var publisher = await GatewayClient.ConnectAsync(gateway.Options(transport, token));
        await using var subscription = await subscriber.SubscribeAsync(topic);

        for (var i = 1; i <= 3; i++)
        {
            await publisher.PublishAsync(topic, $"m{i}");
        }

        var before = await subscription.NextAsync(3);
        Assert.Equal(["m1", "m2", "m3"], before.Select(m => m.GetString()));

        // The network fails: the connection is reset and the node is unreachable for a while.
        var lost = subscriber.StateAsync(e => e.Current == ConnectionState.Reconnecting);
        var back = subscriber.StateAsync(e => e.Current == ConnectionState.Connected && e.Previous == ConnectionState.Reconnecting);
        var resubscribed = subscription.ResubscribedAsync();
        proxy.Blocked = true;
        proxy.DropAll();
        var lostEvent = await lost;
        Assert.Equal(proxy.UriFor(transport), lostEvent.Endpoint);

        // Published while the subscriber is away.
        var missed = new List<PublishAck>();
        for (var i = 4; i <= 6; i++)
        {
            missed.Add(await publisher.PublishAsync(topic, $"m{i}"));
        }

        proxy.Blocked = false;
        await back;
        var report = await resubscribed;
        Assert.Equal(SubscriptionRecovery.Recovered, report.Outcome);
        Assert.Equal(before[^1].Position, report.RequestedFrom);
        Assert.Equal(SubscriptionRecovery.Recovered, subscription.Recovery);

        var live = await publisher.PublishAsync(topic, "m7");
        var after = await subscription.NextAsync(4);

        Assert.Equal(["m4", "m5", "m6", "m7"], after.Select(m => m.GetString()));
        Assert.Equal([.. missed.Select(a => a.Position), live.Position], after.Select(m => m.Position));
        Assert.All(after.Take(3), m => Assert.Equal(GatewayMessageKind.Replayed, m.Kind));
        Assert.Equal(GatewayMessageKind.Live, after[3].Kind);
        Assert.All(after, m => Assert.Equal(0UL, m.MissedBefore));

        // Offsets strictly increase across the seam: no gap, no duplicate.
        var offsets = before.Concat(after).Select(m => m.Offset).ToArray();
        Assert.Equal(Enumerable.Range(0, 7).Select(i => offsets[0] + (ulong)i), offsets);
        Assert.Equal(2, proxy.Accepted);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task After_a_gateway_restart_the_lost_history_is_reported_as_recovery_failed(string transport)
    {
        var keys = TestKeys.Create();
        var first = await TestGateway.StartAsync(keys, "node-before");
        await using var second = await TestGateway.StartAsync(keys, "node-after");
        await using var proxy = new TcpProxy(transport == "tcp" ? first.TcpPort : first.HttpPort);
        var token = keys.Token("dora", subscribe: ["workflow:*"], publish: ["workflow:*"]);
        var topic = $"workflow:restart-{transport}";
        try
        {
            await using var subscriber = await GatewayClient.ConnectAsync(first.Options(transport, token) with { Endpoints = [proxy.UriFor(transport)] });
            await using var subscription = await subscriber.SubscribeAsync(topic);
            await using (var publisher = await GatewayClient.ConnectAsync(first.Options(transport, token)))
            {
                await publisher.PublishAsync(topic, "step 1");
                await publisher.PublishAsync(topic, "step 2");
            }

            var before = await subscription.NextAsync(2);
            Assert.Equal(["step 1", "step 2"], before.Select(m => m.GetString()));

            // The node restarts: new connections land on a fresh process whose memory holds no history.
            var back = subscriber.StateAsync(e => e.Current == ConnectionState.Connected && e.Previous == ConnectionState.Reconnecting);
            var resubscribed = subscription.ResubscribedAsync();
            proxy.TargetPort = transport == "tcp" ? second.TcpPort : second.HttpPort;
            await first.StopAsync();

            var reconnected = await back;
            Assert.Equal("node-after", subscriber.Connection!.NodeId);
            var report = await resubscribed;
            Assert.Equal(SubscriptionRecovery.Failed, report.Outcome);
            Assert.Equal(before[^1].Position, report.RequestedFrom);
            Assert.Equal(SubscriptionRecovery.Failed, subscription.Recovery);

            // In order in the stream: the application learns it must refetch state, not a silent gap.
            var marker = await subscription.NextAsync();
            Assert.Equal(GatewayMessageKind.RecoveryFailed, marker.Kind);
            Assert.True(marker.Payload.IsEmpty);

            await using (var publisher = await GatewayClient.ConnectAsync(second.Options(transport, token)))
            {
                var ack = await publisher.PublishAsync(topic, "step 3");
                var next = await subscription.NextAsync();
                Assert.Equal("step 3", next.GetString());
                Assert.Equal(ack.Position, next.Position);
            }

            Assert.NotNull(reconnected);
        }
        finally
        {
            await first.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_draining_node_sends_go_away_and_the_client_moves_to_the_next_endpoint()
    {
        var keys = TestKeys.Create();
        await using var nodeA = await TestGateway.StartAsync(keys, "node-a", "--Gateway:Drain:Timeout=00:00:20");
        await using var nodeB = await TestGateway.StartAsync(keys, "node-b");
        var token = keys.Token("erin", subscribe: ["team:*"], publish: ["team:*"]);
        var topic = "team:drain";
        var options = nodeA.Options("ws", token) with { Endpoints = [nodeA.WebSocketUri, nodeB.WebSocketUri] };

        await using var client = await GatewayClient.ConnectAsync(options);
        Assert.Equal("node-a", client.Connection!.NodeId);
        await using var subscription = await client.SubscribeAsync(topic);

        var leaving = client.StateAsync(e => e.Current == ConnectionState.Reconnecting);
        var arrived = client.StateAsync(e => e.Current == ConnectionState.Connected && e.Previous == ConnectionState.Reconnecting);
        var resubscribed = subscription.ResubscribedAsync();
        await nodeA.PostOkAsync("/api/v1/admin/drain", new { });

        var left = await leaving;
        Assert.StartsWith("go_away", left.Reason, StringComparison.Ordinal);
        var connected = await arrived;
        Assert.Equal(nodeB.WebSocketUri, connected.Endpoint);
        Assert.Equal("node-b", client.Connection!.NodeId);

        // Two nodes without a shared engine cannot replay each other's history: reported, not silent.
        var report = await resubscribed;
        Assert.NotEqual(SubscriptionRecovery.None, report.Outcome);

        // Requests flow on the new node.
        var ack = await client.PublishAsync(topic, "on b");
        GatewayMessage message;
        do
        {
            message = await subscription.NextAsync();
        }
        while (message.Kind == GatewayMessageKind.RecoveryFailed);

        Assert.Equal("on b", message.GetString());
        Assert.Equal(ack.Position, message.Position);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_half_open_connection_is_detected_by_heartbeats_and_replaced(string transport)
    {
        await using var gateway = await TestGateway.StartAsync(nodeId: "node-heartbeat");
        await using var proxy = new TcpProxy(transport == "tcp" ? gateway.TcpPort : gateway.HttpPort);
        var token = gateway.Token("hank", subscribe: ["team:*"], publish: ["team:*"]);
        var options = gateway.Options(transport, token) with
        {
            Endpoints = [proxy.UriFor(transport)],
            HeartbeatInterval = TimeSpan.FromMilliseconds(300),
            HeartbeatMissesAllowed = 2,
        };
        await using var client = await GatewayClient.ConnectAsync(options);
        await using var publisher = await GatewayClient.ConnectAsync(gateway.Options(transport, token));
        var topic = $"team:{transport}-heartbeat";
        await using var subscription = await client.SubscribeAsync(topic);

        var lost = client.StateAsync(e => e.Current == ConnectionState.Reconnecting);
        var back = client.StateAsync(e => e.Current == ConnectionState.Connected && e.Previous == ConnectionState.Reconnecting);
        var resubscribed = subscription.ResubscribedAsync();
        proxy.FreezeExisting();

        // Published into the void: the frozen connection swallows it.
        var swallowed = await publisher.PublishAsync(topic, "during the freeze");

        var change = await lost;
        Assert.Equal("heartbeat timeout", change.Reason);
        await back;
        Assert.Equal(SubscriptionRecovery.Recovered, (await resubscribed).Outcome);

        var message = await subscription.NextAsync();
        Assert.Equal("during the freeze", message.GetString());
        Assert.Equal(swallowed.Position, message.Position);
        Assert.Equal(GatewayMessageKind.Replayed, message.Kind);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_publish_waits_through_a_reconnect_instead_of_failing(string transport)
    {
        await using var gateway = await TestGateway.StartAsync(nodeId: "node-wait");
        await using var proxy = new TcpProxy(transport == "tcp" ? gateway.TcpPort : gateway.HttpPort);
        var token = gateway.Token("fred", subscribe: ["team:*"], publish: ["team:*"]);
        await using var client = await GatewayClient.ConnectAsync(gateway.Options(transport, token) with { Endpoints = [proxy.UriFor(transport)] });

        var lost = client.StateAsync(e => e.Current == ConnectionState.Reconnecting);
        proxy.Blocked = true;
        proxy.DropAll();
        await lost;

        var pending = client.PublishAsync($"team:{transport}-later", "queued while away");
        Assert.False(pending.IsCompleted);
        proxy.Blocked = false;

        var ack = await pending.WaitAsync(TestWait.Timeout);
        Assert.True(ack.Offset > 0);
        Assert.Equal(ConnectionState.Connected, client.State);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Token_refresh_on_a_live_connection_reports_the_new_expiry(string transport)
    {
        await using var gateway = await TestGateway.StartAsync(nodeId: "node-refresh");
        var issued = 0;
        var options = gateway.Options(transport, "unused") with
        {
            Token = null,
            TokenProvider = _ =>
            {
                var lifetime = Interlocked.Increment(ref issued) == 1 ? TimeSpan.FromMinutes(30) : TimeSpan.FromHours(2);
                return ValueTask.FromResult(gateway.Token("gina", lifetime: lifetime));
            },
        };

        await using var client = await GatewayClient.ConnectAsync(options);
        var refreshed = new TaskCompletionSource<TokenRefreshedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.TokenRefreshed += (_, e) => refreshed.TrySetResult(e);
        var expiry = await client.RefreshTokenAsync();

        Assert.Equal(2, issued);
        Assert.InRange(expiry, DateTimeOffset.UtcNow.AddMinutes(110), DateTimeOffset.UtcNow.AddMinutes(130));
        Assert.Equal(expiry, (await refreshed.Task.WaitAsync(TestWait.Timeout)).ExpiresAt);
        await client.PingAsync();
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_token_about_to_expire_is_refreshed_automatically(string transport)
    {
        await using var gateway = await TestGateway.StartAsync(nodeId: "node-autorefresh");
        var issued = 0;
        var options = gateway.Options(transport, "unused") with
        {
            Token = null,
            RefreshBeforeExpiry = TimeSpan.FromMinutes(5),
            TokenProvider = _ =>
            {
                // The first token lives 8 s: the client refreshes it half-way, before it expires.
                var lifetime = Interlocked.Increment(ref issued) == 1 ? TimeSpan.FromSeconds(8) : TimeSpan.FromHours(1);
                return ValueTask.FromResult(gateway.Token("ivy", lifetime: lifetime));
            },
        };

        await using var client = await GatewayClient.ConnectAsync(options);
        var refreshed = new TaskCompletionSource<TokenRefreshedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.TokenRefreshed += (_, e) => refreshed.TrySetResult(e);

        var report = await refreshed.Task.WaitAsync(TestWait.Timeout);
        Assert.InRange(report.ExpiresAt, DateTimeOffset.UtcNow.AddMinutes(50), DateTimeOffset.UtcNow.AddMinutes(70));
        Assert.Equal(2, issued);
        Assert.Equal(ConnectionState.Connected, client.State);
    }
}
