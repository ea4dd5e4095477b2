using Gateway.Protocol.Buffers;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests;

/// <summary>Drain order (protocol §8.6): answers first, then messages by priority, never breaking a topic's order.</summary>
public class OutboundQueuePriorityTests
{
    private readonly TrackingFrameBufferPool _pool = new();

    private FrameBuffer Message(string topic, Priority priority, ulong offset, int payload = 10, bool keyed = true)
    {
        var buffer = _pool.Rent(FrameWriter.GetMessageSize(topic.Length, payload));
        FrameWriter.WriteMessage(buffer, topic, priority, 1, offset, 0, new byte[payload]);
        buffer.OrderingKey = keyed ? string.Intern(topic) : null;
        return buffer;
    }

    private FrameBuffer Ack(uint correlationId)
    {
        var buffer = _pool.Rent(64);
        FrameWriter.WritePublishAck(buffer, correlationId, 1, correlationId);
        return buffer;
    }

    private FrameBuffer Unsubscribed(string topic)
    {
        var buffer = _pool.Rent(64);
        FrameWriter.WriteUnsubscribed(buffer, 9, topic);
        return buffer;
    }

    private static string Describe(Received f) => f.Kind switch
    {
        FrameKind.Message => $"{f.Topic}#{f.Offset}",
        FrameKind.PublishAck => $"ack{f.CorrelationId}",
        _ => $"{f.Kind}:{f.Topic}",
    };

    private List<string> Drain(OutboundQueue queue, long maxBytes = long.MaxValue, OutboundBatchCounts? counts = null)
    {
        var batch = new List<FrameBuffer>();
        queue.DrainTo(batch, maxBytes, counts);
        var decoded = batch.Select(b => Describe(Inbox.Decode(b.Memory))).ToList();
        batch.ForEach(b => b.Release());
        return decoded;
    }

    [Fact]
    public void Critical_and_high_overtake_queued_low_and_normal_of_other_topics()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions());
        for (ulong i = 1; i <= 3; i++)
        {
            queue.TryEnqueueMessage(Message("bulk", Priority.Low, i), Priority.Low);
        }

        queue.TryEnqueueMessage(Message("news", Priority.Normal, 1), Priority.Normal);
        queue.TryEnqueueMessage(Message("ops", Priority.High, 1), Priority.High);
        queue.TryEnqueueMessage(Message("alarm", Priority.Critical, 1), Priority.Critical);

        Assert.Equal(["alarm#1", "ops#1", "news#1", "bulk#1", "bulk#2", "bulk#3"], Drain(queue));
        Assert.Equal(0, queue.Count);
        Assert.Equal(0, queue.Bytes);
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void A_topic_keeps_its_order_across_priorities()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions());
        queue.TryEnqueueMessage(Message("t", Priority.Low, 1), Priority.Low);
        queue.TryEnqueueMessage(Message("other", Priority.Low, 1), Priority.Low);
        queue.TryEnqueueMessage(Message("t", Priority.Low, 2), Priority.Low);
        queue.TryEnqueueMessage(Message("t", Priority.Critical, 3), Priority.Critical);
        queue.TryEnqueueMessage(Message("t", Priority.Low, 4), Priority.Low);

        // t#1 and t#2 are taken with t#3 (offsets stay increasing on the connection); other#1 and t#4 wait.
        Assert.Equal(["t#1", "t#2", "t#3", "other#1", "t#4"], Drain(queue));
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void Messages_of_unknown_topic_keep_their_place_among_messages()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions());
        queue.TryEnqueueMessage(Message("a", Priority.Low, 1), Priority.Low);
        queue.TryEnqueueMessage(Message("b", Priority.Low, 1, keyed: false), Priority.Low);
        queue.TryEnqueueMessage(Message("c", Priority.Critical, 1), Priority.Critical);
        queue.TryEnqueueControl(Ack(5));

        Assert.Equal(["ack5", "a#1", "b#1", "c#1"], Drain(queue));
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void Acks_go_out_ahead_of_queued_fan_out()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions());
        for (ulong i = 1; i <= 50; i++)
        {
            queue.TryEnqueueMessage(Message("feed", Priority.Normal, i), Priority.Normal);
        }

        queue.TryEnqueueControl(Ack(1));
        queue.TryEnqueueMessage(Message("feed", Priority.Normal, 51), Priority.Normal);
        queue.TryEnqueueControl(Ack(2));

        var drained = Drain(queue);
        Assert.Equal(["ack1", "ack2"], drained.Take(2));
        Assert.Equal(Enumerable.Range(1, 51).Select(i => $"feed#{i}"), drained.Skip(2));
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void Unsubscribed_and_Error_are_neither_overtaken_nor_overtake()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions());
        queue.TryEnqueueMessage(Message("t", Priority.Low, 1), Priority.Low);
        queue.TryEnqueueControl(Ack(1));
        queue.TryEnqueueControl(Unsubscribed("t"));
        queue.TryEnqueueMessage(Message("u", Priority.Low, 1), Priority.Low);
        queue.TryEnqueueMessage(Message("v", Priority.Critical, 1), Priority.Critical);
        queue.TryEnqueueControl(Ack(2));

        // The ack overtakes t#1 within its segment; nothing crosses the Unsubscribed; after it the same rules again.
        Assert.Equal(["ack1", "t#1", "Unsubscribed:t", "ack2", "v#1", "u#1"], Drain(queue));
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void A_byte_bounded_drain_takes_the_head_of_the_order_and_a_later_critical_still_overtakes_the_rest()
    {
        var size = FrameWriter.GetMessageSize(4, 100);
        var queue = new OutboundQueue(new OutboundQueueOptions());
        for (ulong i = 1; i <= 10; i++)
        {
            queue.TryEnqueueMessage(Message("bulk", Priority.Low, i, 100), Priority.Low);
        }

        Assert.Equal(["bulk#1", "bulk#2", "bulk#3"], Drain(queue, size * 3 + size / 2));
        Assert.Equal(7, queue.Count);
        Assert.Equal(7L * size, queue.Bytes);

        queue.TryEnqueueMessage(Message("crit", Priority.Critical, 1, 100), Priority.Critical);
        queue.TryEnqueueControl(Ack(7));
        Assert.Equal(["ack7", "crit#1", "bulk#4"], Drain(queue, size * 3));
        Assert.Equal(["bulk#5", "bulk#6", "bulk#7", "bulk#8", "bulk#9", "bulk#10"], Drain(queue));

        // At least one frame per drain, however small the bound.
        queue.TryEnqueueMessage(Message("bulk", Priority.Low, 11, 100), Priority.Low);
        Assert.Equal(["bulk#11"], Drain(queue, 1));
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void A_bounded_drain_never_splits_a_topic_out_of_order()
    {
        var size = FrameWriter.GetMessageSize(1, 100);
        var queue = new OutboundQueue(new OutboundQueueOptions());
        queue.TryEnqueueMessage(Message("t", Priority.Low, 1, 100), Priority.Low);
        queue.TryEnqueueMessage(Message("t", Priority.Low, 2, 100), Priority.Low);
        queue.TryEnqueueMessage(Message("t", Priority.Critical, 3, 100), Priority.Critical);
        queue.TryEnqueueMessage(Message("x", Priority.High, 1, 100), Priority.High);

        Assert.Equal(["t#1", "t#2"], Drain(queue, size * 2));
        Assert.Equal(["t#3", "x#1"], Drain(queue));
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void Batch_counts_by_kind_come_from_the_queue()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions());
        var first = Message("a", Priority.Low, 1);
        var firstLength = first.Length;
        queue.TryEnqueueMessage(first, Priority.Low);
        queue.TryEnqueueMessage(Message("b", Priority.Critical, 1), Priority.Critical);
        queue.TryEnqueueControl(Ack(1));
        queue.TryEnqueueControl(Ack(2));

        var counts = new OutboundBatchCounts();
        var batch = new List<FrameBuffer>();
        Assert.Equal(4, queue.DrainTo(batch, long.MaxValue, counts));
        Assert.Equal(2, counts.Frames(FrameKind.Message));
        Assert.Equal(2, counts.Frames(FrameKind.PublishAck));
        Assert.Equal(batch.Where(b => Inbox.Decode(b.Memory).Kind == FrameKind.PublishAck).Sum(b => (long)b.Length), counts.Bytes(FrameKind.PublishAck));
        Assert.Same(first, counts.OldestLiveMessage); // the one queued first, though the critical one is written first
        Assert.Equal(firstLength, counts.OldestLiveMessage!.Length);
        batch.ForEach(b => b.Release());
        counts.Clear();
        Assert.Equal(0, counts.Frames(FrameKind.Message));
        Assert.Null(counts.OldestLiveMessage);
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void Control_frames_beyond_their_bound_close_the_queue_as_slow_consumer()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions { MaxControlFrames = 16, MaxControlBytes = 1024 * 1024 });
        queue.TryEnqueueMessage(Message("t", Priority.Normal, 1), Priority.Normal);
        for (uint i = 1; i <= 16; i++)
        {
            Assert.True(queue.TryEnqueueControl(Ack(i)));
        }

        Assert.Equal(16, queue.ControlCount);
        Assert.Equal(ErrorCode.None, queue.CloseReason);
        Assert.False(queue.TryEnqueueControl(Ack(17)));
        Assert.Equal(ErrorCode.SlowConsumer, queue.CloseReason);
        Assert.True(queue.IsCompleted);
        Assert.Equal(EnqueueResult.Closed, queue.TryEnqueueMessage(Message("t", Priority.Critical, 2), Priority.Critical));

        // Messages were released at once; the answers already queued remain for the host's close, and stay bounded.
        Assert.Equal(16, queue.Count);
        Assert.False(queue.TryEnqueueControl(Ack(18)));
        Assert.Equal(16, Drain(queue).Count);
        Assert.Equal(0, queue.ControlCount);
        Assert.Equal(0, queue.ControlBytes);
        queue.Complete(discard: true);
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void Control_bytes_are_bounded_too()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions { MaxControlFrames = 1000, MaxControlBytes = 4096 });
        var accepted = 0;
        while (queue.TryEnqueueControl(Ack((uint)accepted + 1)))
        {
            accepted++;
        }

        Assert.True(queue.ControlBytes <= 4096);
        Assert.True(accepted > 16);
        Assert.Equal(ErrorCode.SlowConsumer, queue.CloseReason);
        queue.Complete(discard: true);
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void A_stalled_writer_close_releases_queued_messages()
    {
        var queue = new OutboundQueue(new OutboundQueueOptions());
        for (ulong i = 1; i <= 100; i++)
        {
            queue.TryEnqueueMessage(Message("t", Priority.Normal, i), Priority.Normal);
        }

        Assert.True(queue.CloseAsSlowConsumer());
        Assert.False(queue.CloseAsSlowConsumer());
        Assert.Equal(0, queue.Count);
        Assert.Equal(0, queue.Bytes);
        Assert.Equal(ErrorCode.SlowConsumer, queue.CloseReason);
        queue.Complete(discard: true);
        _pool.AssertNoLeaks();
    }

    [Fact]
    public void Options_reject_control_bounds_out_of_range()
    {
        Assert.Contains("MaxControlFrames", Assert.Throws<ArgumentException>(() => new OutboundQueueOptions { MaxControlFrames = 1 }.Validate()).Message);
        Assert.Contains("MaxControlBytes", Assert.Throws<ArgumentException>(() => new OutboundQueueOptions { MaxControlBytes = 10 }.Validate()).Message);
    }
}
