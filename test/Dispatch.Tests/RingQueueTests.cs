namespace Gateway.Dispatch.Tests;

public class RingQueueTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(1000)]
    public void Capacity_must_be_a_power_of_two(int capacity) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new RingQueue<int>(capacity));

    [Fact]
    public void Fifo_and_full_and_empty()
    {
        var ring = new RingQueue<int>(4);
        Assert.False(ring.TryDequeue(out _));
        Assert.True(ring.IsEmpty);
        for (var i = 0; i < 4; i++)
        {
            Assert.True(ring.TryEnqueue(i));
        }

        Assert.False(ring.TryEnqueue(99));
        Assert.Equal(4, ring.Count);
        for (var lap = 0; lap < 3; lap++)
        {
            // Wraps around several times without losing order.
            Assert.True(ring.TryDequeue(out var first));
            Assert.Equal(lap, first);
            Assert.True(ring.TryEnqueue(4 + lap));
        }

        var rest = new List<int>();
        while (ring.TryDequeue(out var v))
        {
            rest.Add(v);
        }

        Assert.Equal([3, 4, 5, 6], rest);
        Assert.True(ring.IsEmpty);
        Assert.Equal(7, ring.TotalEnqueued);
    }

    [Fact]
    public void Dequeue_clears_references()
    {
        var ring = new RingQueue<object?>(2);
        var weak = Fill(ring);
        Assert.True(Take(ring));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.False(weak.IsAlive);

        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        static WeakReference Fill(RingQueue<object?> r)
        {
            var o = new object();
            r.TryEnqueue(o);
            return new WeakReference(o);
        }

        // Out of line, so no stack slot of this frame keeps the dequeued object alive.
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        static bool Take(RingQueue<object?> r) => r.TryDequeue(out _);
    }

    [Fact]
    public void Many_producers_one_consumer_lose_nothing_and_keep_each_producers_order()
    {
        const int producers = 4;
        const int perProducer = 200_000;
        var ring = new RingQueue<long>(1024);
        var start = new Barrier(producers + 1);
        var threads = Enumerable.Range(0, producers).Select(p => new Thread(() =>
        {
            start.SignalAndWait();
            for (long i = 0; i < perProducer; i++)
            {
                var value = ((long)p << 32) | i;
                while (!ring.TryEnqueue(value))
                {
                    Thread.Yield();
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        start.SignalAndWait();

        var next = new long[producers];
        var received = 0L;
        var spin = default(SpinWait);
        while (received < producers * (long)perProducer)
        {
            if (!ring.TryDequeue(out var value))
            {
                spin.SpinOnce();
                continue;
            }

            var p = (int)(value >> 32);
            Assert.Equal(next[p], value & 0xFFFFFFFF);
            next[p]++;
            received++;
        }

        threads.ForEach(t => t.Join());
        Assert.All(next, n => Assert.Equal(perProducer, n));
        Assert.True(ring.IsEmpty);
    }

    [Fact]
    public void Many_producers_many_consumers_deliver_each_item_exactly_once()
    {
        const int producers = 3;
        const int consumers = 3;
        const int perProducer = 100_000;
        var ring = new RingQueue<int>(256);
        var seen = new int[producers * perProducer];
        var consumed = 0;
        var threads = new List<Thread>();
        for (var p = 0; p < producers; p++)
        {
            var id = p;
            threads.Add(new Thread(() =>
            {
                for (var i = 0; i < perProducer; i++)
                {
                    while (!ring.TryEnqueue((id * perProducer) + i))
                    {
                        Thread.Yield();
                    }
                }
            }));
        }

        for (var c = 0; c < consumers; c++)
        {
            threads.Add(new Thread(() =>
            {
                while (Volatile.Read(ref consumed) < seen.Length)
                {
                    if (ring.TryDequeue(out var v))
                    {
                        Interlocked.Increment(ref seen[v]);
                        Interlocked.Increment(ref consumed);
                    }
                    else
                    {
                        Thread.Yield();
                    }
                }
            }));
        }

        threads.ForEach(t => t.Start());
        Assert.True(threads.All(t => t.Join(TimeSpan.FromSeconds(60))));
        Assert.All(seen, count => Assert.Equal(1, count));
    }
}
