using System.Buffers.Binary;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests;

public class OrderingStressTests
{
    [Fact]
    public async Task Many_producers_topics_and_churn_keep_offsets_increasing_lose_nothing_and_leak_nothing()
    {
        const int topics = 8;
        const int producers = 4;
        const int perProducer = 1500;
        await using var h = new Harness(o =>
        {
            o.WorkerCount = 3;
            o.RingCapacity = 8192;
            o.Outbound = new OutboundQueueOptions { MaxFrames = 1 << 20, MaxBytes = 1L << 30 };
        });
        var d = h.Dispatcher;
        var names = Enumerable.Range(0, topics).Select(i => $"stress/{i}").ToArray();
        Assert.True(names.Select(d.OwnerOf).Distinct().Count() > 1); // the topics really spread over workers

        // Stable subscribers: subscribed to everything for the whole run.
        var stable = Enumerable.Range(0, 4).Select(i => h.Connect($"stable{i}")).ToList();
        foreach (var inbox in stable)
        {
            foreach (var t in names)
            {
                Assert.Equal(ErrorCode.None, d.Subscribe(inbox.Session, t, null, 1, 100));
            }
        }

        foreach (var inbox in stable)
        {
            Assert.True(await inbox.WaitUntilAsync(i => i.Frames.Count(f => f.Kind == FrameKind.Subscribed) == topics));
        }

        using var stop = new CancellationTokenSource();
        var readers = stable.Select(inbox => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await inbox.WaitUntilAsync(_ => stop.IsCancellationRequested, 1);
            }
        })).ToList();

        // Churn: sessions that subscribe, unsubscribe, resubscribe and disconnect while publishing goes on.
        var churned = new List<Inbox>();
        var churn = Task.Run(() =>
        {
            var random = new Random(7);
            for (var round = 0; round < 60; round++)
            {
                var inbox = h.Connect($"churn{round}");
                lock (churned)
                {
                    churned.Add(inbox);
                }

                foreach (var t in names.OrderBy(_ => random.Next()).Take(4))
                {
                    d.Subscribe(inbox.Session, t, null, 1, 100);
                }

                inbox.Pump();
                d.Unsubscribe(inbox.Session, names[random.Next(topics)], 2);
                d.Subscribe(inbox.Session, names[random.Next(topics)], null, 3, 100);
                inbox.Pump();
                if (round % 3 != 0)
                {
                    d.Disconnect(inbox.Session);
                }
            }
        });

        var publishers = Enumerable.Range(0, producers).Select(p => Task.Run(() =>
        {
            Span<byte> payload = stackalloc byte[8];
            for (var i = 0; i < perProducer; i++)
            {
                BinaryPrimitives.WriteInt32BigEndian(payload, p);
                BinaryPrimitives.WriteInt32BigEndian(payload[4..], i);
                var topic = names[(p + i) % topics];
                var priority = (Priority)(i % 4);
                while (d.TryPublish(topic, priority, payload) == ErrorCode.Overloaded)
                {
                    Thread.Yield();
                }
            }
        })).ToList();

        await Task.WhenAll(publishers).WaitAsync(TimeSpan.FromSeconds(40));
        await churn.WaitAsync(TimeSpan.FromSeconds(40));
        const int total = producers * perProducer;
        foreach (var inbox in stable)
        {
            // The reader tasks are the queues' single readers (a second concurrent WaitToReadAsync would reset the
            // first one's continuation and hang it): here only poll what they received.
            Assert.True(await Harness.EventuallyAsync(() => inbox.Messages.Count >= total, 30), $"{inbox.Session.ConnectionId} got {inbox.Messages.Count}/{total}");
        }

        await stop.CancelAsync();
        await Task.WhenAll(readers);

        // Stable subscribers: every offset of every topic exactly once, strictly increasing per topic.
        foreach (var inbox in stable)
        {
            foreach (var group in inbox.Messages.GroupBy(m => m.Topic))
            {
                var offsets = group.Select(m => m.Offset).ToList();
                Assert.Equal(Enumerable.Range(1, offsets.Count).Select(i => (ulong)i), offsets);
                Assert.Single(group.Select(m => m.Epoch).Distinct());
            }

            // Each producer's messages to one topic keep their order too (same priority ⇒ same ring ⇒ FIFO).
            foreach (var group in inbox.Messages.GroupBy(m => (m.Topic, m.Priority, BinaryPrimitives.ReadInt32BigEndian(m.Payload))))
            {
                var sequence = group.Select(m => BinaryPrimitives.ReadInt32BigEndian(m.Payload.AsSpan(4))).ToList();
                Assert.Equal(sequence.Order(), sequence);
            }
        }

        // Churned subscribers: whatever they got is strictly increasing per topic (a subscription that was
        // dropped and re-added may skip a range, never go back).
        foreach (var inbox in churned)
        {
            inbox.Pump();
            foreach (var group in inbox.Messages.GroupBy(m => m.Topic))
            {
                var offsets = group.Select(m => m.Offset).ToList();
                for (var i = 1; i < offsets.Count; i++)
                {
                    Assert.True(offsets[i] > offsets[i - 1], $"{inbox.Session.ConnectionId} {group.Key}: {offsets[i - 1]} then {offsets[i]}");
                }
            }
        }

        Assert.True(await Harness.EventuallyAsync(() => d.GetStats().Dispatched.Sum() == total));
        var stats = d.GetStats();
        Assert.Equal(0, stats.Shed.Sum());
        Assert.Equal(total, stats.Dispatched.Sum());
        Assert.Equal(total, stats.Enqueued.Sum());
        Assert.Equal(0, stats.WorkerFaults);
        // Leaks are asserted when the harness is disposed (TrackingFrameBufferPool.AssertNoLeaks).
    }

    [Fact]
    public async Task Under_overload_every_message_is_delivered_or_counted_as_shed()
    {
        const int topics = 4;
        const int producers = 4;
        const int perProducer = 2000;
        const int total = producers * perProducer;
        await using var h = new Harness(o =>
        {
            o.WorkerCount = 2;
            o.RingCapacity = 4096;
            o.Outbound = new OutboundQueueOptions { MaxFrames = 32, MaxBytes = 1 << 20 };
        });
        var d = h.Dispatcher;
        var names = Enumerable.Range(0, topics).Select(i => $"over/{i}").ToArray();
        var readers = Enumerable.Range(0, 3).Select(i => h.Connect($"slow{i}")).ToList();
        foreach (var inbox in readers)
        {
            foreach (var t in names)
            {
                d.Subscribe(inbox.Session, t, null, 1, 10);
            }

            Assert.True(await inbox.WaitUntilAsync(i => i.Frames.Count == topics));
        }

        using var stop = new CancellationTokenSource();
        // Slow readers: they drain now and then, far slower than the publishers produce.
        var pumps = readers.Select(inbox => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                inbox.Pump();
                await Task.Delay(2);
            }
        })).ToList();

        var publishers = Enumerable.Range(0, producers).Select(p => Task.Run(() =>
        {
            for (var i = 0; i < perProducer; i++)
            {
                var priority = i % 3 == 0 ? Priority.Normal : Priority.Low;
                while (d.TryPublish(names[(p + i) % topics], priority, [1, 2, 3]) == ErrorCode.Overloaded)
                {
                    Thread.Yield();
                }
            }
        })).ToList();
        await Task.WhenAll(publishers).WaitAsync(TimeSpan.FromSeconds(40));
        Assert.True(SpinWait.SpinUntil(() => d.GetStats().Dispatched.Sum() == total, TimeSpan.FromSeconds(30)));
        await stop.CancelAsync();
        await Task.WhenAll(pumps);

        long shedByReaders = 0;
        foreach (var inbox in readers)
        {
            inbox.Pump();
            var queue = inbox.Session.Outbound;
            // Nothing vanishes silently: delivered + shed = published, for every connection.
            Assert.Equal(total, inbox.Messages.Count + queue.ShedLow + queue.ShedNormal);
            Assert.False(inbox.Session.IsClosed);
            shedByReaders += queue.ShedLow + queue.ShedNormal;
            foreach (var group in inbox.Messages.GroupBy(m => m.Topic))
            {
                var offsets = group.Select(m => m.Offset).ToList();
                for (var i = 1; i < offsets.Count; i++)
                {
                    Assert.True(offsets[i] > offsets[i - 1]);
                }
            }
        }

        Assert.True(shedByReaders > 0, "the test did not overload the readers");
        var stats = d.GetStats();
        Assert.Equal(shedByReaders, stats.Shed.Sum());
        Assert.Equal(0, stats.Shed[(int)Priority.Critical] + stats.Shed[(int)Priority.High]);
    }
}
