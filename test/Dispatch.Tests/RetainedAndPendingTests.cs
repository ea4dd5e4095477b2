using System.Text;
using Gateway.Protocol;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests;

public class RetainedAndPendingTests
{
    private static byte[] P(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public async Task Workflow_subscriber_gets_the_retained_state_right_after_subscribed_then_live()
    {
        await using var h = new Harness();
        var d = h.Dispatcher;
        await d.PublishAsync("workflow:7f3a", Priority.Normal, P("started"));
        await d.PublishAsync("workflow:7f3a", Priority.Normal, P("50%"));
        await d.PublishAsync("workflow:7f3a", Priority.Normal, P("90%"));
        await d.PublishAsync("plain", Priority.Normal, P("not retained"));

        var a = h.Connect("a");
        d.Subscribe(a.Session, "workflow:7f3a", null, 1, 10);
        d.Subscribe(a.Session, "plain", null, 2, 10);
        Assert.True(await a.WaitUntilAsync(i => i.Frames.Count(f => f.Kind == FrameKind.Subscribed) == 2 && i.Messages.Count == 1));
        var frames = a.Frames.Where(f => f.Topic == "workflow:7f3a").ToList();
        Assert.Equal(FrameKind.Subscribed, frames[0].Kind);
        Assert.Equal(FrameKind.Message, frames[1].Kind);
        Assert.Equal(FrameFlags.Retained, frames[1].Flags);
        Assert.Equal(3ul, frames[1].Offset);
        Assert.Equal("90%", Encoding.UTF8.GetString(frames[1].Payload));
        Assert.Empty(a.MessagesOf("plain"));

        d.TryPublish("workflow:7f3a", Priority.Normal, P("done"));
        Assert.True(await a.WaitForMessagesAsync(2));
        var live = a.MessagesOf("workflow:7f3a")[^1];
        Assert.Equal(4ul, live.Offset);
        Assert.Equal(FrameFlags.None, live.Flags);

        // Recovering from the current position: nothing missed, so no retained copy either.
        var b = h.Connect("b");
        d.Subscribe(b.Session, "workflow:7f3a", new StreamPosition(live.Epoch, 4), 1, 10);
        Assert.True(await b.WaitUntilAsync(i => i.Frames.Count == 1));
        Assert.Equal(FrameFlags.Recovered, b.Frames[0].Flags);
    }

    [Fact]
    public async Task Notifications_stay_pending_until_acked_and_are_redelivered_on_connect()
    {
        await using var h = new Harness();
        var d = h.Dispatcher;
        // Published while alice is offline.
        for (var i = 1; i <= 3; i++)
        {
            await d.PublishAsync("user:alice", Priority.High, P($"n{i}"));
        }

        var first = h.Connect("c1", "alice");
        Assert.True(await first.WaitForMessagesAsync(3));
        Assert.All(first.Messages, m => Assert.Equal(FrameFlags.Replayed, m.Flags));
        Assert.Equal([1ul, 2, 3], first.Messages.Select(m => m.Offset));

        // Live while connected: delivered as live, and pending too until acked.
        d.TryPublish("user:alice", Priority.High, P("n4"));
        Assert.True(await first.WaitForMessagesAsync(4));
        Assert.Equal(FrameFlags.None, first.Messages[3].Flags);

        d.Ack(first.Session, "user:alice", 2);
        d.Ack(first.Session, "user:alice", 4);
        d.Ack(first.Session, "user:bob", 1); // not alice's topic: ignored
        d.Disconnect(first.Session);
        var mallory = h.Connect("m", "mallory");
        d.Ack(mallory.Session, "user:alice", 1); // another user's ack does not count

        var second = h.Connect("c2", "alice");
        Assert.True(await second.WaitForMessagesAsync(2));
        Assert.Equal([1ul, 3], second.Messages.Select(m => m.Offset));
        Assert.Equal(["n1", "n3"], second.Messages.Select(m => Encoding.UTF8.GetString(m.Payload)));
        Assert.All(second.Messages, m => Assert.Equal(FrameFlags.Replayed, m.Flags));
    }

    [Fact]
    public async Task Pending_notifications_expire_and_are_bounded_per_user()
    {
        var time = new ManualTime();
        await using var h = new Harness(o => { o.PendingTtl = TimeSpan.FromMinutes(10); o.MaxPendingPerUser = 3; }, time: time);
        var d = h.Dispatcher;
        await d.PublishAsync("user:bob", Priority.Normal, P("old"));
        time.Advance(TimeSpan.FromMinutes(11));
        for (var i = 0; i < 5; i++)
        {
            await d.PublishAsync("user:bob", Priority.Normal, P($"new{i}"));
        }

        var bob = h.Connect("b", "bob");
        Assert.True(await bob.WaitForMessagesAsync(3));
        // "old" expired; of the five new ones only the latest three are kept.
        Assert.Equal(["new2", "new3", "new4"], bob.Messages.Select(m => Encoding.UTF8.GetString(m.Payload)));
        bob.Pump();
        Assert.Equal(3, bob.Messages.Count);
    }

    [Fact]
    public async Task Every_connection_of_a_user_receives_its_notifications()
    {
        await using var h = new Harness(o => o.WorkerCount = 2);
        var phone = h.Connect("phone", "carol");
        var laptop = h.Connect("laptop", "carol");
        var other = h.Connect("other", "dave");
        await h.Dispatcher.PublishAsync("user:carol", Priority.Critical, P("hi"));
        Assert.True(await phone.WaitForMessagesAsync(1));
        Assert.True(await laptop.WaitForMessagesAsync(1));
        await h.Dispatcher.PublishAsync("user:dave", Priority.Critical, P("hi dave"));
        Assert.True(await other.WaitForMessagesAsync(1));
        phone.Pump();
        Assert.Single(phone.Messages);
        Assert.True(phone.Session.IsSubscribed("user:carol"));
    }
}
