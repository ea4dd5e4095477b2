using System.Collections.Concurrent;
using System.Diagnostics;
using Gateway.Client.Tests.Infrastructure;
using Gateway.Protocol;
using Xunit.Abstractions;

namespace Gateway.Client.Tests;

/// <summary>
/// Issue 12, failover that clients survive: two gateway node processes on one real redis-server behind a
/// real HAProxy. The node a client is on dies (SIGKILL) or drains (GoAway); the client comes back through
/// the balancer on the other node, resubscribes with recovery, gets every acknowledged message once and in
/// order (replay, then live, across the seam), its pending notifications redelivered, and never a duplicate.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class FailoverTests(ITestOutputHelper output)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public static TheoryData<string> Transports => new() { "ws", "tcp" };

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task When_its_node_is_killed_the_client_resumes_through_the_balancer_with_every_message_once(string transport)
    {
        await using var cluster = await FailoverCluster.StartAsync();
        Log("cluster up");
        var user = $"kim-{transport}";
        var topic = $"team:failover/{transport}-kill";
        var options = cluster.Options(transport, cluster.Keys.Token(user, subscribe: ["team:*"]));
        await using var client = await GatewayClient.ConnectAsync(options);
        var home = cluster.Node(client.Connection!.NodeId);
        var survivor = cluster.Other(home);
        await using var subscription = await client.SubscribeAsync(topic);
        var discontinuities = WatchDiscontinuities(subscription, client.Notifications);

        // Before the failure: a notification delivered and acked, one delivered and not acked, three messages.
        var (n1, n2) = await TwoNotificationsAsync(client, survivor, user);
        var acks = new ConcurrentBag<(StreamPosition Position, string Text)>();
        for (var i = 1; i <= 3; i++)
        {
            acks.Add((await survivor.PublishAsync(topic, $"m{i}"), $"m{i}"));
        }

        var before = await subscription.NextAsync(3);
        Log("before the kill");

        // While the client is away: the handler runs before its first reconnect attempt, so these are
        // published (and acknowledged) before it can be back.
        var away = new ConcurrentBag<StreamPosition>();
        StreamPosition? awayNotification = null;
        var once = 0;
        client.StateChanged += (_, e) =>
        {
            if (e.Current == ConnectionState.Reconnecting && Interlocked.Exchange(ref once, 1) == 0)
            {
                for (var i = 1; i <= 3; i++)
                {
                    var position = survivor.PublishAsync(topic, $"away{i}").GetAwaiter().GetResult();
                    acks.Add((position, $"away{i}"));
                    away.Add(position);
                }

                awayNotification = survivor.NotifyAsync(user, "n3").GetAwaiter().GetResult();
            }
        };

        var lost = client.StateAsync(e => e.Current == ConnectionState.Reconnecting);
        var back = client.StateAsync(e => e.Current == ConnectionState.Connected && e.Previous == ConnectionState.Reconnecting);
        var resubscribed = subscription.ResubscribedAsync();
        home.Kill();

        // Live traffic keeps flowing on the survivor through the reconnect, the replay and after it.
        using var stop = new CancellationTokenSource();
        var publisher = PublishUntilAsync(survivor, topic, acks, stop.Token);

        var lostEvent = await lost;
        Log("lost");
        Assert.NotNull(lostEvent.RetryDelay);
        Assert.InRange(lostEvent.RetryDelay.Value, TimeSpan.Zero, options.Reconnect.FirstReconnectWindow);
        var backEvent = await back;
        Log("back");
        Assert.Equal(survivor.NodeId, client.Connection!.NodeId);
        Assert.Equal(cluster.Balancer.UriFor(transport), backEvent.Endpoint);
        var report = await resubscribed;
        Assert.Equal(SubscriptionRecovery.Recovered, report.Outcome);
        Assert.Equal(before[^1].Position, report.RequestedFrom);
        Assert.True(report.Timestamp >= lostEvent.Timestamp);
        Log("resubscribed");

        await Task.Delay(300);
        await stop.CancelAsync();
        await publisher;

        AssertEveryAcknowledgedMessageOnce(acks, before, await ReadThroughAsync(subscription, acks));
        Assert.All(away, p => Assert.True(p.Offset > before[^1].Offset));
        Assert.True(subscription.ReplayedCount >= away.Count, $"replayed {subscription.ReplayedCount}");
        Assert.Equal(0, subscription.GapsDetected);
        Assert.Empty(discontinuities);

        // Notifications: the pending one (delivered, not acked) is redelivered by the survivor and suppressed,
        // the one sent while away arrives once, the acked one never comes back.
        Log("stream checked");
        var n3 = await client.Notifications.NextAsync();
        Log("n3");
        Assert.Equal(awayNotification, n3.Position);
        await AssertNotificationsAfterAsync(client, survivor, user, n2, n3, delivered: 3);
        Log("notifications checked");
        Assert.NotEqual(n1.Position, n3.Position);
    }

    [Fact]
    public async Task When_its_node_drains_the_client_leaves_on_go_away_and_resumes_on_the_other_node_with_every_message_once()
    {
        await using var cluster = await FailoverCluster.StartAsync("--Gateway:Drain:ReconnectJitter=00:00:01", "--Gateway:Drain:Timeout=00:00:20");
        const string user = "lou";
        const string topic = "team:failover/drain";
        var options = cluster.Options("ws", cluster.Keys.Token(user, subscribe: ["team:*"]));
        await using var client = await GatewayClient.ConnectAsync(options);
        var home = cluster.Node(client.Connection!.NodeId);
        var survivor = cluster.Other(home);
        await using var subscription = await client.SubscribeAsync(topic);
        var discontinuities = WatchDiscontinuities(subscription, client.Notifications);

        var (_, n2) = await TwoNotificationsAsync(client, survivor, user);
        var acks = new ConcurrentBag<(StreamPosition Position, string Text)>();
        for (var i = 1; i <= 3; i++)
        {
            acks.Add((await survivor.PublishAsync(topic, $"m{i}"), $"m{i}"));
        }

        var before = await subscription.NextAsync(3);

        // Messages keep flowing on the old connection after GoAway, then on the new one: the seam between
        // what the draining node flushed, the replay on the survivor and live traffic.
        using var stop = new CancellationTokenSource();
        var publisher = PublishUntilAsync(survivor, topic, acks, stop.Token);
        var lost = client.StateAsync(e => e.Current == ConnectionState.Reconnecting);
        var back = client.StateAsync(e => e.Current == ConnectionState.Connected && e.Previous == ConnectionState.Reconnecting && e.Endpoint is not null);
        var resubscribed = subscription.ResubscribedAsync();
        await home.DrainAsync();

        var left = await lost;
        Assert.StartsWith("go_away", left.Reason, StringComparison.Ordinal);
        Assert.InRange(left.RetryDelay!.Value, TimeSpan.Zero, TimeSpan.FromSeconds(1));
        await back;
        var report = await resubscribed;
        Assert.Equal(SubscriptionRecovery.Recovered, report.Outcome);

        // The draining node refuses new connections and leaves HAProxy's rotation: the client ends on the survivor.
        var settled = Stopwatch.StartNew();
        while (client.Connection?.NodeId != survivor.NodeId && settled.Elapsed < TestWait.Timeout)
        {
            await Task.Delay(50);
        }

        Assert.Equal(survivor.NodeId, client.Connection!.NodeId);
        await Task.Delay(300);
        await stop.CancelAsync();
        await publisher;

        AssertEveryAcknowledgedMessageOnce(acks, before, await ReadThroughAsync(subscription, acks));
        Assert.Equal(0, subscription.GapsDetected);
        Assert.Empty(discontinuities);
        await AssertNotificationsAfterAsync(client, survivor, user, n2, null, delivered: 2);
    }

    private void Log(string phase) => output.WriteLine($"{_clock.Elapsed.TotalSeconds,6:F1} s  {phase}");

    private static ConcurrentQueue<SubscriptionDiscontinuityEventArgs> WatchDiscontinuities(params GatewaySubscription[] subscriptions)
    {
        var seen = new ConcurrentQueue<SubscriptionDiscontinuityEventArgs>();
        foreach (var subscription in subscriptions)
        {
            subscription.Discontinuity += (_, e) => seen.Enqueue(e);
        }

        return seen;
    }

    /// <summary>Notification n1 delivered and acked (the gateway has processed the ack), n2 delivered and left pending.</summary>
    private static async Task<(GatewayMessage N1, GatewayMessage N2)> TwoNotificationsAsync(GatewayClient client, GatewayNode node, string user)
    {
        var first = await node.NotifyAsync(user, "n1");
        var n1 = await client.Notifications.NextAsync();
        Assert.Equal(first, n1.Position);
        await client.AckAsync(n1);

        // The Ack went out before the Ping, on the same connection.
        await client.PingAsync();
        var second = await node.NotifyAsync(user, "n2");
        var n2 = await client.Notifications.NextAsync();
        Assert.Equal(second, n2.Position);
        return (n1, n2);
    }

    private static async Task PublishUntilAsync(GatewayNode node, string topic, ConcurrentBag<(StreamPosition Position, string Text)> acks, CancellationToken stop)
    {
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            acks.Add((await node.PublishAsync(topic, $"live{i}"), $"live{i}"));
            await Task.Delay(10, CancellationToken.None);
        }
    }

    /// <summary>Reads until the last acknowledged offset arrived.</summary>
    private static async Task<List<GatewayMessage>> ReadThroughAsync(GatewaySubscription subscription, ConcurrentBag<(StreamPosition Position, string Text)> acks)
    {
        var last = acks.Max(a => a.Position.Offset);
        var read = new List<GatewayMessage>();
        while (read.Count == 0 || read[^1].Offset < last)
        {
            read.Add(await subscription.NextAsync());
        }

        return read;
    }

    /// <summary>Every acknowledged publish reached the application exactly once, in offset order, with no gap.</summary>
    private static void AssertEveryAcknowledgedMessageOnce(ConcurrentBag<(StreamPosition Position, string Text)> acks, List<GatewayMessage> before, List<GatewayMessage> after)
    {
        var expected = acks.OrderBy(a => a.Position.Offset).ToList();
        var delivered = before.Concat(after).ToList();
        Assert.Equal(Enumerable.Range(0, expected.Count).Select(i => expected[0].Position.Offset + (ulong)i), expected.Select(a => a.Position.Offset));
        Assert.Equal(expected.Select(a => a.Position), delivered.Select(m => m.Position));
        Assert.Equal(expected.Select(a => a.Text), delivered.Select(m => m.GetString().Trim('"')));
        Assert.All(delivered, m => Assert.Equal(0UL, m.MissedBefore));
        Assert.All(delivered, m => Assert.False(m.AfterGap));
    }

    /// <summary>
    /// After the reconnect, the pending <paramref name="pending"/> was redelivered by the gateway and
    /// suppressed by the SDK (counted as a duplicate); a new notification is the next item: nothing else surfaced.
    /// </summary>
    private static async Task AssertNotificationsAfterAsync(GatewayClient client, GatewayNode node, string user, GatewayMessage pending, GatewayMessage? fresh, int delivered)
    {
        var notifications = client.Notifications;
        var deadline = Stopwatch.StartNew();
        while (notifications.DuplicatesDropped < 1 && deadline.Elapsed < TestWait.Timeout)
        {
            await Task.Delay(20);
        }

        Assert.True(notifications.DuplicatesDropped >= 1, "the redelivered pending notification was not seen");
        await client.AckAsync(pending);
        if (fresh is not null)
        {
            await client.AckAsync(fresh);
        }

        var last = await node.NotifyAsync(user, "last");
        var next = await notifications.NextAsync();
        Assert.Equal(last, next.Position);
        Assert.Equal(delivered + 1, notifications.DeliveredCount);
    }
}
