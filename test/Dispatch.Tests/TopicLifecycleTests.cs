using Gateway.Protocol;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests;

public class TopicLifecycleTests
{
    [Fact]
    public async Task Idle_topics_are_dropped_and_come_back_with_a_new_epoch_while_live_ones_stay()
    {
        var time = new ManualTime();
        await using var h = new Harness(
            o =>
            {
                o.WorkerCount = 1;
                o.History = new HistoryOptions { MaxAge = TimeSpan.FromMinutes(1) };
            },
            start: false,
            time: time);
        var d = h.Dispatcher;
        var worker = d.Workers[0];
        var watcher = h.Connect("w");
        d.Subscribe(watcher.Session, "watched", null, 1, 10);
        var old = await Publish(d, worker, "quiet");
        await Publish(d, worker, "watched");
        await Publish(d, worker, "workflow:keep");
        await Publish(d, worker, "user:offline");
        var before = d.TopicCount;

        // Within the history age nothing is idle.
        Assert.Equal(0, d.SweepIdleTopics(worker));
        time.Advance(TimeSpan.FromMinutes(2));

        // A publish already queued (not yet dispatched) when its topic is dropped.
        var queued = d.PublishAsync("quiet", Priority.Normal, new byte[] { 2 });
        d.TryPublish("watched", Priority.Normal, [9]);

        // "quiet" (no subscriber, history aged out) goes; subscribed, retained and pending state stays.
        Assert.Equal(1, d.SweepIdleTopics(worker));
        Assert.Equal(before - 1, d.TopicCount);

        // The queued item is re-resolved to the topic's new state on the same owner, not lost.
        worker.RunCycle();
        var again = await queued.AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(before, d.TopicCount);
        Assert.NotEqual(old.Epoch, again.Epoch);
        Assert.Equal(1ul, again.Offset);

        var late = h.Connect("late");
        d.Subscribe(late.Session, "quiet", new StreamPosition(old.Epoch, old.Offset), 1, 10);
        worker.RunCycle();
        late.Pump();
        Assert.Equal(FrameFlags.RecoveryFailed, late.Frames.Single().Flags);

        var pendingOwner = h.Connect("o", "offline");
        worker.RunCycle();
        pendingOwner.Pump();
        Assert.Single(pendingOwner.Messages);
        watcher.Pump();
        Assert.Equal(2, watcher.Messages.Count);
    }

    private static async Task<PublishResult> Publish(Dispatcher d, DispatchWorker worker, string topic)
    {
        var task = d.PublishAsync(topic, Priority.Normal, new byte[] { 1 });
        worker.RunCycle();
        return await task.AsTask().WaitAsync(TimeSpan.FromSeconds(20));
    }
}
