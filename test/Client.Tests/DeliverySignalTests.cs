using System.Collections.Concurrent;
using Gateway.Client.Tests.Infrastructure;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Client.Tests;

/// <summary>
/// What the SDK tells the application when the stream is not gapless (issue 10): recovery_incomplete
/// mapped back to its subscription (also after a resubscribe on a new connection), gaps repaired by
/// resubscribing with recovery, epoch changes, unrepairable gaps on broadcast, and pending notifications
/// redelivered below the last delivered offset. A scripted gateway on a real socket plays the server.
/// </summary>
public sealed class DeliverySignalTests
{
    private const ulong Epoch = 77;
    private const string Topic = "team:42/alerts";

    [Fact]
    public async Task Recovery_incomplete_after_a_resubscribe_is_reported_for_that_subscription_between_the_replay_and_the_live_messages()
    {
        await using var server = new ScriptedGateway();
        var accepting = server.AcceptAsync();
        await using var client = await GatewayClient.ConnectAsync(server.Options());
        var first = await accepting;

        // First connection: a plain subscribe, two live messages.
        var subscribing = client.SubscribeAsync(Topic);
        var subscribe = await first.ExpectAsync(FrameKind.Subscribe);
        Assert.Null(subscribe.RecoverFrom);
        await first.SubscribedAsync(subscribe, Epoch, 10);
        var subscription = await subscribing; // ends with the client (disposing it would wait for Unsubscribed)
        var signals = new ConcurrentQueue<SubscriptionDiscontinuityEventArgs>();
        subscription.Discontinuity += (_, e) => signals.Enqueue(e);
        await first.MessageAsync(Topic, Epoch, 11);
        await first.MessageAsync(Topic, Epoch, 12);
        Assert.Equal([11UL, 12UL], (await subscription.NextAsync(2)).Select(m => m.Offset));

        // The connection drops; the client resubscribes with recovery from the last delivered position.
        var resubscribed = subscription.ResubscribedAsync();
        var accepting2 = server.AcceptAsync();
        first.Drop();
        var second = await accepting2;
        var resubscribe = await second.ExpectAsync(FrameKind.Subscribe);
        Assert.Equal(Topic, resubscribe.Topic);
        Assert.Equal(new StreamPosition(Epoch, 12), resubscribe.RecoverFrom);
        Assert.NotEqual(subscribe.CorrelationId, resubscribe.CorrelationId);

        // Recovered, part of the replay, then recovery_incomplete with the resubscribe's correlation id, then live.
        await second.SubscribedAsync(resubscribe, Epoch, 20, FrameFlags.Recovered);
        await second.MessageAsync(Topic, Epoch, 13, FrameFlags.Replayed);
        await second.MessageAsync(Topic, Epoch, 14, FrameFlags.Replayed);
        await second.ErrorAsync(ErrorCode.RecoveryIncomplete, resubscribe.CorrelationId, "history trimmed while paging");
        await second.MessageAsync(Topic, Epoch, 25);
        await second.MessageAsync(Topic, Epoch, 26);

        Assert.Equal(SubscriptionRecovery.Recovered, (await resubscribed).Outcome);
        var items = await subscription.NextAsync(5);
        Assert.Equal(
            [(GatewayMessageKind.Replayed, 13UL), (GatewayMessageKind.Replayed, 14UL), (GatewayMessageKind.RecoveryIncomplete, 14UL), (GatewayMessageKind.Live, 25UL), (GatewayMessageKind.Live, 26UL)],
            items.Select(m => (m.Kind, m.Offset)));
        Assert.True(items[2].IsRecoveryMarker);
        Assert.All(items, m => Assert.False(m.AfterGap)); // the marker is the in-stream signal
        Assert.Equal(10UL, items[3].MissedBefore);
        Assert.Equal(SubscriptionRecovery.Incomplete, subscription.Recovery);
        Assert.Equal(new StreamPosition(Epoch, 26), subscription.Position);

        // One signal, for this subscription; the gap before the live messages is not reported (or repaired) again.
        var signal = Assert.Single(signals);
        Assert.Equal(SubscriptionDiscontinuityKind.RecoveryIncomplete, signal.Kind);
        Assert.Equal(Topic, signal.Topic);
        Assert.Equal(new StreamPosition(Epoch, 14), signal.From);
        Assert.True(signal.RequiresRefetch);
        Assert.Equal("history trimmed while paging", signal.Detail);
        Assert.Equal(0, subscription.GapsDetected);
        Assert.Equal(ConnectionState.Connected, client.State);
    }

    [Fact]
    public async Task A_recovery_incomplete_for_another_correlation_id_does_not_touch_the_subscription()
    {
        await using var server = new ScriptedGateway();
        var accepting = server.AcceptAsync();
        await using var client = await GatewayClient.ConnectAsync(server.Options());
        var connection = await accepting;
        var subscribing = client.SubscribeAsync(Topic, new StreamPosition(Epoch, 10));
        var subscribe = await connection.ExpectAsync(FrameKind.Subscribe);
        Assert.Equal(new StreamPosition(Epoch, 10), subscribe.RecoverFrom);
        await connection.SubscribedAsync(subscribe, Epoch, 12, FrameFlags.Recovered);
        var subscription = await subscribing; // ends with the client (disposing it would wait for Unsubscribed)
        var signals = new ConcurrentQueue<SubscriptionDiscontinuityEventArgs>();
        subscription.Discontinuity += (_, e) => signals.Enqueue(e);

        await connection.ErrorAsync(ErrorCode.RecoveryIncomplete, subscribe.CorrelationId + 1000, "not ours");
        await connection.MessageAsync(Topic, Epoch, 11, FrameFlags.Replayed);
        await connection.MessageAsync(Topic, Epoch, 12, FrameFlags.Replayed);

        var items = await subscription.NextAsync(2);
        Assert.Equal([11UL, 12UL], items.Select(m => m.Offset));
        Assert.All(items, m => Assert.Equal(GatewayMessageKind.Replayed, m.Kind));
        Assert.Empty(signals);
        Assert.Equal(SubscriptionRecovery.Recovered, subscription.Recovery);
    }

    [Fact]
    public async Task A_gap_is_reported_and_repaired_by_resubscribing_from_the_last_delivered_position()
    {
        await using var setup = await SubscribedAsync();
        var (client, connection, subscription, signals) = (setup.Client, setup.Connection, setup.Subscription, setup.Signals);
        var resubscribed = subscription.ResubscribedAsync();

        // 13 and 14 were shed for this connection; 16 arrives before the repair is answered.
        await connection.MessageAsync(Topic, Epoch, 11);
        await connection.MessageAsync(Topic, Epoch, 12);
        await connection.MessageAsync(Topic, Epoch, 15);
        await connection.MessageAsync(Topic, Epoch, 16);

        var unsubscribe = await connection.ExpectAsync(FrameKind.Unsubscribe);
        Assert.Equal(Topic, unsubscribe.Topic);
        await connection.SendAsync(w => FrameWriter.WriteUnsubscribed(w, unsubscribe.CorrelationId, Topic));
        var repair = await connection.ExpectAsync(FrameKind.Subscribe);
        Assert.Equal(new StreamPosition(Epoch, 12), repair.RecoverFrom);
        await connection.SubscribedAsync(repair, Epoch, 16, FrameFlags.Recovered);
        for (ulong offset = 13; offset <= 16; offset++)
        {
            await connection.MessageAsync(Topic, Epoch, offset, FrameFlags.Replayed);
        }

        await connection.MessageAsync(Topic, Epoch, 17);

        var items = await subscription.NextAsync(7);
        Assert.Equal(Enumerable.Range(11, 7).Select(i => (ulong)i), items.Select(m => m.Offset));
        Assert.All(items, m => Assert.False(m.AfterGap));
        Assert.All(items, m => Assert.Equal(0UL, m.MissedBefore));
        Assert.Equal(SubscriptionRecovery.Recovered, (await resubscribed).Outcome);

        var gap = Assert.Single(signals);
        Assert.Equal(SubscriptionDiscontinuityKind.Gap, gap.Kind);
        Assert.Equal(new StreamPosition(Epoch, 12), gap.From);
        Assert.Equal(new StreamPosition(Epoch, 15), gap.To);
        Assert.Equal(2UL, gap.Missed);
        Assert.True(gap.Recovering);
        Assert.False(gap.RequiresRefetch);
        Assert.Equal(1, subscription.GapsDetected);
    }

    [Fact]
    public async Task A_gap_whose_repair_fails_ends_in_recovery_failed()
    {
        await using var setup = await SubscribedAsync();
        var (client, connection, subscription, signals) = (setup.Client, setup.Connection, setup.Subscription, setup.Signals);

        await connection.MessageAsync(Topic, Epoch, 11);
        await connection.MessageAsync(Topic, Epoch, 14);
        var unsubscribe = await connection.ExpectAsync(FrameKind.Unsubscribe);
        await connection.SendAsync(w => FrameWriter.WriteUnsubscribed(w, unsubscribe.CorrelationId, Topic));
        var repair = await connection.ExpectAsync(FrameKind.Subscribe);
        Assert.Equal(new StreamPosition(Epoch, 11), repair.RecoverFrom);
        await connection.SubscribedAsync(repair, Epoch, 30, FrameFlags.RecoveryFailed);
        await connection.MessageAsync(Topic, Epoch, 31);

        var items = await subscription.NextAsync(3);
        Assert.Equal([(GatewayMessageKind.Live, 11UL), (GatewayMessageKind.RecoveryFailed, 30UL), (GatewayMessageKind.Live, 31UL)], items.Select(m => (m.Kind, m.Offset)));
        Assert.All(items, m => Assert.False(m.AfterGap)); // the marker is the in-stream signal
        Assert.Equal(SubscriptionRecovery.Failed, subscription.Recovery);
        Assert.Equal(
            [(SubscriptionDiscontinuityKind.Gap, true), (SubscriptionDiscontinuityKind.RecoveryFailed, false)],
            signals.Select(s => (s.Kind, s.Recovering)));
    }

    [Fact]
    public async Task An_epoch_change_and_a_gap_on_broadcast_are_reported_without_repair()
    {
        await using var setup = await SubscribedAsync();
        var (client, connection, subscription, signals) = (setup.Client, setup.Connection, setup.Subscription, setup.Signals);
        client.Broadcasts.Discontinuity += (_, e) => signals.Enqueue(e);

        await connection.MessageAsync(Topic, Epoch, 11);
        await connection.MessageAsync(Topic, Epoch + 1, 1);
        await connection.MessageAsync(Topic, Epoch + 1, 2);
        await connection.MessageAsync("broadcast", 5, 1);
        await connection.MessageAsync("broadcast", 5, 4);

        var items = await subscription.NextAsync(3);
        Assert.Equal([new StreamPosition(Epoch, 11), new StreamPosition(Epoch + 1, 1), new StreamPosition(Epoch + 1, 2)], items.Select(m => m.Position));
        Assert.Equal([false, true, false], items.Select(m => m.AfterGap));
        var broadcasts = await client.Broadcasts.NextAsync(2);
        Assert.Equal([1UL, 4UL], broadcasts.Select(m => m.Offset));
        Assert.True(broadcasts[1].AfterGap);
        Assert.Equal(2UL, broadcasts[1].MissedBefore);

        Assert.Equal(
            [
                (Topic, SubscriptionDiscontinuityKind.EpochChanged, new StreamPosition(Epoch, 11), new StreamPosition(Epoch + 1, 1), false),
                ("broadcast", SubscriptionDiscontinuityKind.Gap, new StreamPosition(5, 1), new StreamPosition(5, 4), false),
            ],
            signals.Select(s => (s.Topic, s.Kind, s.From!.Value, s.To!.Value, s.Recovering)));

        // Nothing was resubscribed: the next frame the client sends is the Unsubscribe of the dispose below.
        var disposing = subscription.DisposeAsync();
        var next = await connection.ExpectAsync(FrameKind.Unsubscribe);
        await connection.SendAsync(w => FrameWriter.WriteUnsubscribed(w, next.CorrelationId, Topic));
        await disposing;
    }

    [Fact]
    public async Task Pending_notifications_below_the_last_delivered_offset_are_delivered_and_acks_are_resent_for_duplicates()
    {
        await using var server = new ScriptedGateway();
        var accepting = server.AcceptAsync();
        await using var client = await GatewayClient.ConnectAsync(server.Options());
        var first = await accepting;
        const string user = "user:tester";

        // Notification 2 was shed for this connection (low priority); 1 and 3 arrive live.
        await first.MessageAsync(user, Epoch, 1);
        await first.MessageAsync(user, Epoch, 3);
        var live = await client.Notifications.NextAsync(2);
        Assert.Equal([1UL, 3UL], live.Select(m => m.Offset));
        await client.AckAsync(live[0]);
        Assert.Equal(1UL, (await first.ExpectAsync(FrameKind.Ack, includeAcks: true)).AckOffset);

        // Reconnect: the gateway redelivers the pending ones (2 and 3; 1 was acked).
        var accepting2 = server.AcceptAsync();
        first.Drop();
        var second = await accepting2;
        await client.AckAsync(live[1]);
        await second.MessageAsync(user, Epoch, 2, FrameFlags.Replayed);
        await second.MessageAsync(user, Epoch, 3, FrameFlags.Replayed);

        var redelivered = await client.Notifications.NextAsync();
        Assert.Equal(2UL, redelivered.Offset);
        Assert.Equal(GatewayMessageKind.Replayed, redelivered.Kind);
        Assert.False(redelivered.AfterGap);

        // 3 is not surfaced again; its ack (sent on this connection, or re-sent on redelivery) reaches the gateway.
        var ack = await second.ExpectAsync(FrameKind.Ack, includeAcks: true);
        Assert.Equal((user, 3UL), (ack.Topic, ack.AckOffset));
        await TestWaitUntil(() => client.Notifications.DuplicatesDropped == 1);
        Assert.False(client.Notifications.Messages.TryPeek(out _));
    }

    private static async Task TestWaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TestWait.Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(10);
        }
    }

    /// <summary>A client connected to a scripted gateway and subscribed to <see cref="Topic"/> at offset 10, with its signals collected.</summary>
    private static async Task<Subscribed> SubscribedAsync()
    {
        var server = new ScriptedGateway();
        var accepting = server.AcceptAsync();
        var client = await GatewayClient.ConnectAsync(server.Options());
        var connection = await accepting;
        var subscribing = client.SubscribeAsync(Topic);
        var subscribe = await connection.ExpectAsync(FrameKind.Subscribe);
        await connection.SubscribedAsync(subscribe, Epoch, 10);
        var subscription = await subscribing; // ends with the client (disposing it would wait for Unsubscribed)
        var signals = new ConcurrentQueue<SubscriptionDiscontinuityEventArgs>();
        subscription.Discontinuity += (_, e) => signals.Enqueue(e);
        return new Subscribed(server, client, connection, subscription, signals);
    }

    private sealed record Subscribed(ScriptedGateway Server, GatewayClient Client, ScriptedConnection Connection, GatewaySubscription Subscription, ConcurrentQueue<SubscriptionDiscontinuityEventArgs> Signals) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Server.DisposeAsync();
        }
    }
}
