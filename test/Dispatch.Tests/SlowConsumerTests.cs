using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests;

public class SlowConsumerTests
{
    [Fact]
    public async Task A_stalled_session_is_shed_then_closed_while_others_keep_receiving()
    {
        // No burst allowance: this test is about the hard bound (BurstTests cover the allowance).
        await using var h = new Harness(o => o.Outbound = new OutboundQueueOptions { MaxFrames = 16, MaxBytes = 1 << 20, BurstFrames = 0, BurstBytes = 0 });
        var d = h.Dispatcher;
        var stalled = h.Connect("stalled");
        var healthy = h.Connect("healthy");
        d.Subscribe(stalled.Session, "feed", null, 1, 10);
        d.Subscribe(healthy.Session, "feed", null, 1, 10);
        Assert.True(await stalled.WaitUntilAsync(i => i.Frames.Count == 1)); // read Subscribed, then never again
        Assert.True(await healthy.WaitUntilAsync(i => i.Frames.Count == 1));

        // 100 low messages, paced so the healthy reader (16 frames of room) never overflows.
        for (var i = 0; i < 100; i++)
        {
            d.TryPublish("feed", Priority.Low, [1]);
            if (i % 8 == 7)
            {
                var expected = i + 1;
                Assert.True(await healthy.WaitForMessagesAsync(expected));
            }
        }

        Assert.True(await healthy.WaitForMessagesAsync(100));
        Assert.True(await Harness.EventuallyAsync(() => d.GetStats().Dispatched[(int)Priority.Low] == 100));
        Assert.Equal(16, stalled.Session.Outbound.Count);
        Assert.Equal(84, stalled.Session.Outbound.ShedLow);
        Assert.Equal(84, d.GetStats().Shed[(int)Priority.Low]);
        Assert.False(stalled.Session.IsClosed);

        // Critical messages evict the queued low ones; once the queue is all critical, the next one closes it.
        for (var i = 0; i < 17; i++)
        {
            await d.PublishAsync("feed", Priority.Critical, new byte[] { 2 });
            Assert.True(await healthy.WaitForMessagesAsync(101 + i));
        }

        // The healthy reader can see the last frame before the worker has moved on to the stalled session.
        Assert.True(await Harness.EventuallyAsync(() => d.GetStats().SlowConsumerCloses == 1 && d.FindSession("stalled") is null));
        Assert.Equal(ErrorCode.SlowConsumer, stalled.Session.Outbound.CloseReason);
        Assert.True(stalled.Session.IsClosed);
        Assert.Equal(100, d.GetStats().Shed[(int)Priority.Low]);
        Assert.Equal(1, d.GetStats().SlowConsumerCloses);
        Assert.False(await stalled.Session.Outbound.WaitToReadAsync());
        Assert.Null(d.FindSession("stalled"));

        // The healthy one got everything, in order, and keeps receiving.
        d.TryPublish("feed", Priority.Normal, [3]);
        Assert.True(await healthy.WaitForMessagesAsync(118));
        Assert.Equal(Enumerable.Range(1, 118).Select(i => (ulong)i), healthy.Messages.Select(m => m.Offset));
        Assert.Equal(0, healthy.Session.Outbound.ShedLow + healthy.Session.Outbound.ShedNormal);
    }

    [Fact]
    public async Task Shed_messages_leave_a_detectable_gap()
    {
        await using var h = new Harness(o => o.Outbound = new OutboundQueueOptions { MaxFrames = 4, MaxBytes = 1 << 20 });
        var d = h.Dispatcher;
        var slow = h.Connect("slow");
        d.Subscribe(slow.Session, "g", null, 1, 10);
        Assert.True(await slow.WaitUntilAsync(i => i.Frames.Count == 1));
        for (var i = 0; i < 10; i++)
        {
            await d.PublishAsync("g", Priority.Normal, new byte[] { 1 });
        }

        slow.Pump();
        await d.PublishAsync("g", Priority.Normal, new byte[] { 1 });
        Assert.True(await slow.WaitForMessagesAsync(5));
        Assert.Equal([1ul, 2, 3, 4, 11], slow.Messages.Select(m => m.Offset));
        Assert.Equal(6, slow.Session.Outbound.ShedNormal);
    }
}
