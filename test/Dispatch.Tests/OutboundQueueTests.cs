using Gateway.Protocol.Buffers;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests;

public class OutboundQueueTests
{
    private readonly TrackingFrameBufferPool _pool = new();

    private FrameBuffer Frame(Priority priority, int payload = 10, ulong offset = 0)
    {
        var buffer = _pool.Rent(FrameWriter.GetMessageSize(1, payload));
        FrameWriter.WriteMessage(buffer, "t", priority, 1, offset, 0, new byte[payload]);
        return buffer;
    }

    private List<Received> DrainDecoded(OutboundQueue queue)
    {
        var batch = new List<FrameBuffer>();
        queue.DrainTo(batch);
        var decoded = batch.Select(b => Inbox.Decode(b.Memory)).ToList();
        batch.ForEach(b => b.Release());
        return decoded;
    }

    [Fact]
    public void Fifo_and_drain_takes_everything()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions { MaxFrames = 100 });
        for (ulong i = 1; i <= 50; i++)
        {
            Assert.Equal(EnqueueResult.Queued, queue.TryEnqueueMessage(Frame((Priority)(i % 4), offset: i), (Priority)(i % 4)));
        }

        Assert.Equal(50, queue.Count);
        var frames = DrainDecoded(queue);
        Assert.Equal(Enumerable.Range(1, 50).Select(i => (ulong)i), frames.Select(f => f.Offset));
        Assert.Equal(0, queue.Count);
        Assert.Equal(0, queue.Bytes);
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void Low_is_shed_when_full()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions { MaxFrames = 4 });
        for (ulong i = 1; i <= 10; i++)
        {
            var result = queue.TryEnqueueMessage(Frame(Priority.Low, offset: i), Priority.Low);
            Assert.Equal(i <= 4 ? EnqueueResult.Queued : EnqueueResult.Shed, result);
        }

        Assert.Equal(6, queue.ShedLow);
        Assert.Equal([1UL, 2, 3, 4], DrainDecoded(queue).Select(f => f.Offset));
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void Normal_evicts_oldest_low_then_is_shed()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions { MaxFrames = 4 });
        queue.TryEnqueueMessage(Frame(Priority.Low, offset: 1), Priority.Low);
        queue.TryEnqueueMessage(Frame(Priority.Normal, offset: 2), Priority.Normal);
        queue.TryEnqueueMessage(Frame(Priority.Low, offset: 3), Priority.Low);
        queue.TryEnqueueMessage(Frame(Priority.Normal, offset: 4), Priority.Normal);

        Assert.Equal(EnqueueResult.Queued, queue.TryEnqueueMessage(Frame(Priority.Normal, offset: 5), Priority.Normal)); // evicts 1
        Assert.Equal(EnqueueResult.Queued, queue.TryEnqueueMessage(Frame(Priority.Normal, offset: 6), Priority.Normal)); // evicts 3
        Assert.Equal(EnqueueResult.Shed, queue.TryEnqueueMessage(Frame(Priority.Normal, offset: 7), Priority.Normal)); // nothing lower left

        Assert.Equal(2, queue.ShedLow);
        Assert.Equal(1, queue.ShedNormal);
        Assert.Equal([2UL, 4, 5, 6], DrainDecoded(queue).Select(f => f.Offset));
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void Critical_evicts_low_then_normal_then_closes_as_slow_consumer()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions { MaxFrames = 3, BurstFrames = 0 });
        queue.TryEnqueueMessage(Frame(Priority.Normal, offset: 1), Priority.Normal);
        queue.TryEnqueueMessage(Frame(Priority.Low, offset: 2), Priority.Low);
        queue.TryEnqueueMessage(Frame(Priority.High, offset: 3), Priority.High);

        Assert.Equal(EnqueueResult.Queued, queue.TryEnqueueMessage(Frame(Priority.Critical, offset: 4), Priority.Critical)); // evicts low 2
        Assert.Equal(EnqueueResult.Queued, queue.TryEnqueueMessage(Frame(Priority.High, offset: 5), Priority.High)); // evicts normal 1
        Assert.Equal(ErrorCode.None, queue.CloseReason);
        Assert.Equal(EnqueueResult.ClosedSlowConsumer, queue.TryEnqueueMessage(Frame(Priority.Critical, offset: 6), Priority.Critical));

        Assert.Equal(ErrorCode.SlowConsumer, queue.CloseReason);
        Assert.True(queue.IsCompleted);
        Assert.Equal(0, queue.Count); // queued messages released at once: the connection is going away
        Assert.Equal(EnqueueResult.Closed, queue.TryEnqueueMessage(Frame(Priority.Low), Priority.Low));
        // Control frames (acks owed to the publisher, the Error) still flow until the host completes it.
        Assert.True(queue.TryEnqueueControl(Frame(Priority.Low, offset: 77)));
        Assert.Equal([77UL], DrainDecoded(queue).Select(f => f.Offset));
        queue.Complete(discard: true);
        Assert.False(queue.TryEnqueueControl(Frame(Priority.Low)));
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void Byte_bound_applies_like_the_frame_bound()
    {
        var size = FrameWriter.GetMessageSize(1, 100);
        var queue = new OutboundQueue(new OutboundQueueOptions { MaxFrames = 1000, MaxBytes = size * 3 });
        for (ulong i = 1; i <= 5; i++)
        {
            queue.TryEnqueueMessage(Frame(Priority.Low, 100, i), Priority.Low);
        }

        Assert.Equal(3, queue.Count);
        Assert.Equal(size * 3, queue.Bytes);
        Assert.Equal(2, queue.ShedLow);
        DrainDecoded(queue);
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void Control_frames_are_never_shed_even_beyond_the_bounds()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions { MaxFrames = 2 });
        for (var i = 0; i < 10; i++)
        {
            Assert.True(queue.TryEnqueueControl(Frame(Priority.Low)));
        }

        Assert.Equal(10, queue.Count);
        Assert.Equal(EnqueueResult.Shed, queue.TryEnqueueMessage(Frame(Priority.Low), Priority.Low));
        Assert.Equal(10, DrainDecoded(queue).Count);
        _pool.AssertNoLeaks();
    }

    [Fact]
    public async Task Wait_completes_on_enqueue_and_reports_completion()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions());
        for (var round = 0; round < 3; round++)
        {
            // The same source is reused for every wait.
            var wait = queue.WaitToReadAsync();
            Assert.False(wait.IsCompleted);
            var producer = Task.Run(() => queue.TryEnqueueMessage(Frame(Priority.Normal), Priority.Normal));
            Assert.True(await wait.AsTask().WaitAsync(TimeSpan.FromSeconds(20)));
            await producer;
            Assert.Single(DrainDecoded(queue));
        }

        queue.TryEnqueueMessage(Frame(Priority.Normal), Priority.Normal);
        queue.Complete(discard: false);
        Assert.True(await queue.WaitToReadAsync()); // completed but not empty: the frame is still readable
        Assert.Single(DrainDecoded(queue));
        Assert.False(await queue.WaitToReadAsync());
        Assert.Equal(ErrorCode.None, queue.CloseReason);
        _pool.AssertNoLeaks();
    }

    [Fact]
    public async Task Wait_is_released_by_completion_and_by_cancellation()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions());
        using var cts = new CancellationTokenSource();
        var wait = queue.WaitToReadAsync(cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await wait);

        var second = queue.WaitToReadAsync();
        queue.Complete(discard: true);
        Assert.False(await second.AsTask().WaitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public void Critical_and_high_may_use_the_burst_allowance_and_close_only_beyond_it()
    {
        var fresh = new OutboundQueue(new OutboundQueueOptions { MaxFrames = 4, BurstFrames = 4 });
        for (var i = 1; i <= 8; i++)
        {
            Assert.Equal(EnqueueResult.Queued, fresh.TryEnqueueMessage(Frame(i % 2 == 0 ? Priority.High : Priority.Critical, offset: (ulong)i), i % 2 == 0 ? Priority.High : Priority.Critical));
        }

        Assert.Equal(EnqueueResult.Shed, fresh.TryEnqueueMessage(Frame(Priority.Normal, offset: 9), Priority.Normal)); // normal never uses the burst
        Assert.Equal(EnqueueResult.ClosedSlowConsumer, fresh.TryEnqueueMessage(Frame(Priority.High, offset: 10), Priority.High));
        Assert.Equal(ErrorCode.SlowConsumer, fresh.CloseReason);
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void Replayed_frames_are_admitted_up_to_half_the_queue_never_evicted_and_signal_the_drain()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions { MaxFrames = 8, BurstFrames = 0 });
        var signals = 0;
        queue.Drained = () => signals++;
        var admitted = 0;
        while (true)
        {
            var frame = Frame(Priority.Low, offset: (ulong)(admitted + 1));
            if (!queue.TryEnqueueReplay(frame, force: false, null))
            {
                frame.Release(); // refused frames stay the caller's
                break;
            }

            admitted++;
        }

        Assert.Equal(4, admitted); // half the frame bound: the rest stays for live traffic
        Assert.Equal(0, signals);

        // Live messages fill the rest; a critical one finds no low/normal victim (replayed frames are not victims).
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(EnqueueResult.Queued, queue.TryEnqueueMessage(Frame(Priority.Normal, offset: 100), Priority.Normal));
        }

        Assert.Equal(EnqueueResult.Queued, queue.TryEnqueueMessage(Frame(Priority.Critical, offset: 200), Priority.Critical)); // evicts a normal
        Assert.Equal(1, queue.ShedNormal);
        Assert.Equal(0, queue.ShedLow);

        var drained = DrainDecoded(queue);
        Assert.Equal(1, signals); // the refusal armed the signal; the drain fired it once
        Assert.Equal([1UL, 2, 3, 4], drained.Take(4).Select(f => f.Offset));
        DrainDecoded(queue);
        Assert.Equal(1, signals);

        // An empty queue always admits one replayed frame, whatever its size: a replay always progresses.
        var tiny = new OutboundQueue(new OutboundQueueOptions { MaxFrames = 1, MaxBytes = 64 });
        Assert.True(tiny.TryEnqueueReplay(Frame(Priority.Normal, payload: 1000), force: false, null));
        var refused = Frame(Priority.Normal);
        Assert.False(tiny.TryEnqueueReplay(refused, force: false, null));
        refused.Release(); // refused frames stay the caller's
        DrainDecoded(tiny);
        queue.Complete(discard: true);
        tiny.Complete(discard: true);
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void A_slow_consumer_close_keeps_queued_control_frames_and_drops_messages()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions { MaxFrames = 2, BurstFrames = 0 });
        Assert.True(queue.TryEnqueueControl(Frame(Priority.Low, offset: 1))); // e.g. a PublishAck
        Assert.Equal(EnqueueResult.Queued, queue.TryEnqueueMessage(Frame(Priority.High, offset: 2), Priority.High));
        Assert.Equal(EnqueueResult.ClosedSlowConsumer, queue.TryEnqueueMessage(Frame(Priority.High, offset: 3), Priority.High));
        Assert.True(queue.IsCompleted);
        Assert.Equal([1UL], DrainDecoded(queue).Select(f => f.Offset));
        queue.Complete(discard: true);
        _pool.AssertNoLeaks();
    }
}
