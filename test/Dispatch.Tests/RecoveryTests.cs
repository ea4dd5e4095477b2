using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests;

public class RecoveryTests
{
    [Fact]
    public async Task Recovery_while_publishing_concurrently_has_no_gap_and_no_duplicate_at_the_seam()
    {
        const int total = 3000;
        await using var h = new Harness(o =>
        {
            o.WorkerCount = 2;
            o.History = new HistoryOptions { MaxMessages = 10_000, MaxBytes = 1 << 26 };
            o.Outbound = new OutboundQueueOptions { MaxFrames = 1 << 16, MaxBytes = 1 << 26 };
        });
        var d = h.Dispatcher;
        var first = await d.PublishAsync("seam", Priority.Normal, new byte[] { 0 });
        Assert.Equal(1ul, first.Offset);

        var publisher = Task.Run(() =>
        {
            var priorities = new[] { Priority.Low, Priority.Normal, Priority.High, Priority.Critical };
            for (var i = 1; i < total; i++)
            {
                while (d.TryPublish("seam", priorities[i % 4], new byte[] { 1 }) == ErrorCode.Overloaded)
                {
                    Thread.Yield();
                }
            }
        });

        // Several clients resubscribe at different moments, each recovering from a different position.
        var clients = new List<(Inbox Inbox, ulong From)>();
        for (var c = 0; c < 6; c++)
        {
            // Wait until the recovery position has been dispatched (offsets are assigned at dispatch).
            // Awaited, not spun: a blocked thread-pool thread can starve the publisher on a loaded 2-core machine,
            // and a position not yet dispatched would (correctly) be answered RecoveryFailed.
            Assert.True(await Harness.EventuallyAsync(() => d.GetStats().Dispatched.Sum() > (c * 400) + 1 || publisher.IsCompleted, 60));
            var inbox = h.Connect($"r{c}");
            var from = (ulong)(c * 100) + 1;
            Assert.Equal(ErrorCode.None, d.Subscribe(inbox.Session, "seam", new StreamPosition(first.Epoch, from), (uint)c, 10));
            clients.Add((inbox, from));
        }

        await publisher.WaitAsync(TimeSpan.FromSeconds(40));
        foreach (var (inbox, from) in clients)
        {
            Assert.True(await inbox.WaitUntilAsync(i => i.Messages.Count >= total - (int)from), $"{inbox.Messages.Count}");
            var subscribed = inbox.Frames[0];
            Assert.Equal(FrameKind.Subscribed, subscribed.Kind);
            Assert.Equal(FrameFlags.Recovered, subscribed.Flags);
            var messages = inbox.Messages;
            // The union of replayed and live is exactly from+1 .. total: no gap, no duplicate, in order.
            Assert.Equal(Enumerable.Range((int)from + 1, total - (int)from).Select(i => (ulong)i), messages.Select(m => m.Offset));
            // Replayed ones are exactly those up to the position reported in Subscribed.
            Assert.All(messages, m => Assert.Equal(m.Offset <= subscribed.Offset, m.Flags == FrameFlags.Replayed));
        }
    }

    [Fact]
    public async Task Cannot_recover_when_history_was_trimmed_or_epoch_differs_or_position_is_ahead()
    {
        await using var h = new Harness(o => o.History = new HistoryOptions { MaxMessages = 10 });
        var d = h.Dispatcher;
        PublishResult last = default;
        for (var i = 0; i < 50; i++)
        {
            last = await d.PublishAsync("t", Priority.Normal, new byte[] { (byte)i });
        }

        Assert.Equal(50ul, last.Offset);
        var cases = new[]
        {
            new StreamPosition(last.Epoch, 5),        // trimmed: 6..40 are gone
            new StreamPosition(last.Epoch + 1, 45),   // another epoch (e.g. before a restart)
            new StreamPosition(last.Epoch, 99),       // from the future
        };
        for (var c = 0; c < cases.Length; c++)
        {
            var inbox = h.Connect($"c{c}");
            d.Subscribe(inbox.Session, "t", cases[c], 1, 10);
            Assert.True(await inbox.WaitUntilAsync(i => i.Frames.Count >= 1));
            var subscribed = inbox.Frames.Single();
            Assert.Equal(FrameFlags.RecoveryFailed, subscribed.Flags);
            Assert.Equal(last.Epoch, subscribed.Epoch);
            Assert.Equal(50ul, subscribed.Offset);
        }

        // The oldest kept message is 41: recovering from 40 works, replaying 41..50.
        var ok = h.Connect("ok");
        d.Subscribe(ok.Session, "t", new StreamPosition(last.Epoch, 40), 1, 10);
        Assert.True(await ok.WaitForMessagesAsync(10));
        Assert.Equal(FrameFlags.Recovered, ok.Frames[0].Flags);
        Assert.Equal(Enumerable.Range(41, 10).Select(i => (ulong)i), ok.Messages.Select(m => m.Offset));

        // Up to date: recovered, nothing to replay.
        var current = h.Connect("current");
        d.Subscribe(current.Session, "t", new StreamPosition(last.Epoch, 50), 1, 10);
        Assert.True(await current.WaitUntilAsync(i => i.Frames.Count >= 1));
        Assert.Equal(FrameFlags.Recovered, current.Frames.Single().Flags);
    }

    [Fact]
    public async Task History_is_trimmed_by_age_and_bytes()
    {
        var time = new ManualTime();
        var frame = FrameWriter.GetMessageSize(1, 100);
        await using var h = new Harness(o => o.History = new HistoryOptions { MaxMessages = 1000, MaxBytes = frame * 5, MaxAge = TimeSpan.FromMinutes(1) }, time: time);
        var d = h.Dispatcher;
        PublishResult last = default;
        for (var i = 0; i < 10; i++)
        {
            last = await d.PublishAsync("t", Priority.Normal, new byte[100]);
        }

        // Byte bound: only the last 5 frames are kept.
        var bytes = h.Connect("bytes");
        d.Subscribe(bytes.Session, "t", new StreamPosition(last.Epoch, 5), 1, 10);
        Assert.True(await bytes.WaitForMessagesAsync(5));
        Assert.Equal(FrameFlags.Recovered, bytes.Frames[0].Flags);
        var tooOld = h.Connect("bytes2");
        d.Subscribe(tooOld.Session, "t", new StreamPosition(last.Epoch, 4), 1, 10);
        Assert.True(await tooOld.WaitUntilAsync(i => i.Frames.Count == 1));
        Assert.Equal(FrameFlags.RecoveryFailed, tooOld.Frames[0].Flags);

        // Age bound: after two minutes nothing is recoverable any more.
        time.Advance(TimeSpan.FromMinutes(2));
        var aged = h.Connect("aged");
        d.Subscribe(aged.Session, "t", new StreamPosition(last.Epoch, 8), 1, 10);
        Assert.True(await aged.WaitUntilAsync(i => i.Frames.Count == 1));
        Assert.Equal(FrameFlags.RecoveryFailed, aged.Frames[0].Flags);
    }

    [Fact]
    public async Task A_new_dispatcher_has_new_epochs_so_old_positions_fail()
    {
        ulong epoch;
        await using (var before = new Harness())
        {
            epoch = (await before.Dispatcher.PublishAsync("t", Priority.Normal, new byte[1])).Epoch;
        }

        await using var after = new Harness();
        var again = await after.Dispatcher.PublishAsync("t", Priority.Normal, new byte[1]);
        Assert.NotEqual(epoch, again.Epoch);
        Assert.NotEqual(0ul, again.Epoch);
        var inbox = after.Connect("x");
        after.Dispatcher.Subscribe(inbox.Session, "t", new StreamPosition(epoch, 1), 1, 10);
        Assert.True(await inbox.WaitUntilAsync(i => i.Frames.Count == 1));
        Assert.Equal(FrameFlags.RecoveryFailed, inbox.Frames[0].Flags);
    }
}
