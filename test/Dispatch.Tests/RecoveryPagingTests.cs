using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests;

/// <summary>
/// Replays (recovery, pending redelivery) are paged as the connection drains: complete whatever their size
/// relative to the outbound queue, never shed, or ended by an explicit recovery_incomplete.
/// </summary>
public class RecoveryPagingTests
{
    [Fact]
    public async Task Many_topics_recovered_through_a_tiny_queue_with_live_publishing_are_complete_and_gap_free()
    {
        const int topics = 4, missed = 600, live = 200;
        await using var h = new Harness(o =>
        {
            o.WorkerCount = 2;
            o.History = new HistoryOptions { MaxMessages = 10_000, MaxBytes = 1 << 26 };
            o.Outbound = new OutboundQueueOptions { MaxFrames = 16, MaxBytes = 1 << 20 };
        });
        var d = h.Dispatcher;
        var names = Enumerable.Range(0, topics).Select(t => $"feed-{t}").ToArray();
        var epochs = new ulong[topics];
        foreach (var (name, t) in names.Select((n, t) => (n, t)))
        {
            for (var i = 0; i < missed; i++)
            {
                var r = await d.PublishAsync(name, (Priority)(i % 4), new byte[] { (byte)i });
                epochs[t] = r.Epoch;
            }
        }

        var client = h.Connect("client");
        for (var t = 0; t < topics; t++)
        {
            // Every topic recovers from offset 0 of its epoch: all 600 messages were missed.
            Assert.Equal(ErrorCode.None, d.Subscribe(client.Session, names[t], new StreamPosition(epochs[t], 0), (uint)(t + 1), 10));
        }

        // Live publishing on every topic while the replays are paged out to a slow reader.
        var publisher = Task.Run(async () =>
        {
            for (var i = 0; i < live; i++)
            {
                foreach (var name in names)
                {
                    // critical/high: once joined, low/normal live traffic may legitimately be shed on a 16-frame queue.
                    while (d.TryPublish(name, (Priority)(i % 2), new byte[] { 9 }) == ErrorCode.Overloaded)
                    {
                        await Task.Delay(1);
                    }
                }

                if (i % 20 == 0)
                {
                    await Task.Delay(2);
                }
            }
        });

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (client.Messages.Count < topics * (missed + live) && DateTime.UtcNow < deadline)
        {
            client.Pump();
            await Task.Delay(1); // a slow reader: a few frames per millisecond at most
        }

        await publisher;
        Assert.True(await client.WaitUntilAsync(i => i.Messages.Count >= topics * (missed + live)), $"{client.Messages.Count}");
        for (var t = 0; t < topics; t++)
        {
            var subscribed = client.Frames.Single(f => f.Kind == FrameKind.Subscribed && f.Topic == names[t]);
            Assert.Equal(FrameFlags.Recovered, subscribed.Flags);
            var messages = client.MessagesOf(names[t]);
            Assert.Equal(Enumerable.Range(1, missed + live).Select(i => (ulong)i), messages.Select(m => m.Offset));
            Assert.All(messages, m => Assert.Equal(m.Offset <= subscribed.Offset, m.Flags == FrameFlags.Replayed));
        }

        Assert.DoesNotContain(client.Frames, f => f.Kind == FrameKind.Error);
        Assert.Equal(0, d.GetStats().Shed.Sum());
        Assert.Equal(0, d.GetStats().SlowConsumerCloses);
        Assert.Equal(0, client.Session.ReplayCount);
    }

    [Fact]
    public async Task A_replay_overtaken_by_trimming_ends_with_recovery_incomplete_and_then_live_messages()
    {
        await using var h = new Harness(o =>
        {
            o.WorkerCount = 1;
            o.History = new HistoryOptions { MaxMessages = 50, MaxBytes = 1 << 26 };
            o.Outbound = new OutboundQueueOptions { MaxFrames = 8, MaxBytes = 1 << 20 };
        });
        var d = h.Dispatcher;
        PublishResult last = default;
        for (var i = 0; i < 40; i++)
        {
            last = await d.PublishAsync("t", Priority.Normal, new byte[] { 1 });
        }

        var client = h.Connect("client");
        Assert.Equal(ErrorCode.None, d.Subscribe(client.Session, "t", new StreamPosition(last.Epoch, 0), 77, 10));
        // The reader does not read: the replay stops at half the queue. Meanwhile 100 more messages trim
        // history (50 kept) past the replay's next offset.
        Assert.True(await Harness.EventuallyAsync(() => client.Session.Outbound.Count >= 4));
        for (var i = 0; i < 100; i++)
        {
            await d.PublishAsync("t", Priority.Normal, new byte[] { 2 });
        }

        Assert.True(await client.WaitUntilAsync(i => i.Frames.Any(f => f.Kind == FrameKind.Error)));
        await d.PublishAsync("t", Priority.Normal, new byte[] { 3 }); // offset 141: live
        Assert.True(await client.WaitUntilAsync(i => i.Messages.Any(m => m.Offset == 141)));

        var frames = client.Frames;
        Assert.Equal(FrameKind.Subscribed, frames[0].Kind);
        Assert.Equal(FrameFlags.Recovered, frames[0].Flags);
        var errorAt = frames.ToList().FindIndex(f => f.Kind == FrameKind.Error);
        var error = frames[errorAt];
        Assert.Equal(ErrorCode.RecoveryIncomplete, error.Error);
        Assert.Equal(77u, error.CorrelationId);
        // Before the error: a contiguous prefix 1..k. After it: live messages only (offset 141).
        var replayed = frames.Take(errorAt).Where(f => f.IsMessage).Select(f => f.Offset).ToList();
        Assert.NotEmpty(replayed);
        Assert.Equal(Enumerable.Range(1, replayed.Count).Select(i => (ulong)i), replayed);
        Assert.Equal([141UL], frames.Skip(errorAt + 1).Where(f => f.IsMessage).Select(f => f.Offset));
        Assert.Equal(1, d.GetStats().ReplaysIncomplete);
        Assert.Equal(0, client.Session.ReplayCount);
    }

    [Fact]
    public async Task Pending_notifications_larger_than_the_queue_are_all_redelivered_in_order()
    {
        const int pending = 600;
        await using var h = new Harness(o =>
        {
            o.WorkerCount = 2;
            o.MaxPendingPerUser = 1000;
            o.Outbound = new OutboundQueueOptions { MaxFrames = 16, MaxBytes = 1 << 20 };
        });
        var d = h.Dispatcher;
        for (var i = 0; i < pending; i++)
        {
            // Low and normal too: a replay is flow-controlled, never shed.
            await d.PublishAsync("user:ann", (Priority)(i % 4), new byte[] { (byte)i });
        }

        var client = h.Connect("c1", "ann");
        var live = Task.Run(async () =>
        {
            for (var i = 0; i < 50; i++)
            {
                await d.PublishAsync("user:ann", Priority.High, new byte[] { 7 });
            }
        });
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (client.Messages.Count < pending + 50 && DateTime.UtcNow < deadline)
        {
            client.Pump();
            await Task.Delay(1);
        }

        await live;
        Assert.True(await client.WaitUntilAsync(i => i.Messages.Count >= pending + 50));
        var messages = client.Messages;
        Assert.Equal(Enumerable.Range(1, pending + 50).Select(i => (ulong)i), messages.Select(m => m.Offset));
        Assert.All(messages.Take(pending), m => Assert.Equal(FrameFlags.Replayed, m.Flags));
        Assert.Equal(0, d.GetStats().Shed.Sum());
    }

    [Fact]
    public async Task Unsubscribing_during_a_replay_stops_it_and_answers_after_what_was_queued()
    {
        await using var h = new Harness(o =>
        {
            o.WorkerCount = 1;
            o.History = new HistoryOptions { MaxMessages = 1000, MaxBytes = 1 << 26 };
            o.Outbound = new OutboundQueueOptions { MaxFrames = 8, MaxBytes = 1 << 20 };
        });
        var d = h.Dispatcher;
        PublishResult last = default;
        for (var i = 0; i < 100; i++)
        {
            last = await d.PublishAsync("t", Priority.Normal, new byte[] { 1 });
        }

        var client = h.Connect("client");
        d.Subscribe(client.Session, "t", new StreamPosition(last.Epoch, 0), 1, 10);
        Assert.True(await Harness.EventuallyAsync(() => client.Session.ReplayCount == 1 && client.Session.Outbound.Count >= 4));
        Assert.Equal(ErrorCode.None, d.Unsubscribe(client.Session, "t", 2));
        Assert.True(await client.WaitUntilAsync(i => i.Frames.Any(f => f.Kind == FrameKind.Unsubscribed)));
        await d.PublishAsync("t", Priority.Normal, new byte[] { 2 });
        await Task.Delay(100);
        client.Pump();

        Assert.Equal(0, client.Session.ReplayCount);
        var offsets = client.Messages.Select(m => m.Offset).ToList();
        Assert.True(offsets.Count < 100, $"{offsets.Count}");
        Assert.Equal(Enumerable.Range(1, offsets.Count).Select(i => (ulong)i), offsets);
        Assert.Equal(FrameKind.Unsubscribed, client.Frames[^1].Kind);
    }
}
