using Gateway.Protocol.Buffers;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests;

/// <summary>
/// A worker wakes each reader once per drained batch, after the batch, and (WakeInline) runs the reader's
/// continuation on its own thread: one wake-up and one write per connection per batch, no thread hop.
/// </summary>
public class InlineWakeTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_batch_of_messages_wakes_the_reader_once_on_the_worker_thread_when_inline(bool inline)
    {
        await using var h = new Harness(o => { o.WorkerCount = 1; o.WakeInline = inline; }, start: false);
        var session = h.Dispatcher.Connect("a", null);
        var wakes = new List<(string? Thread, int Frames)>();
        var received = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task ReadLoopAsync()
        {
            // A well-behaved reader, like the gateway's write loop: drain, "write", wait again; never blocks.
            var batch = new List<FrameBuffer>();
            while (await session.Outbound.WaitToReadAsync().ConfigureAwait(false))
            {
                var n = session.Outbound.DrainTo(batch);
                foreach (var frame in batch)
                {
                    frame.Release();
                }

                batch.Clear();
                lock (wakes)
                {
                    wakes.Add((Thread.CurrentThread.Name, n));
                }

                if ((received += n) >= 10)
                {
                    done.TrySetResult();
                }
            }
        }

        var reader = ReadLoopAsync();
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(Gateway.Protocol.Errors.ErrorCode.None, h.Dispatcher.TryPublish("broadcast", Priority.Normal, [(byte)i]));
        }

        h.Dispatcher.Start(); // one drain takes all ten
        await done.Task.WaitAsync(TimeSpan.FromSeconds(20));
        lock (wakes)
        {
            var wake = Assert.Single(wakes);
            Assert.Equal(10, wake.Frames);
            if (inline)
            {
                Assert.Equal("dispatch-worker-0", wake.Thread);
            }
            else
            {
                Assert.NotEqual("dispatch-worker-0", wake.Thread);
            }
        }

        h.Dispatcher.Disconnect(session);
        await reader.WaitAsync(TimeSpan.FromSeconds(20));
    }
}

/// <summary>Admission is bounded by pending deliveries per worker and priority, not by message count.</summary>
public class PendingDeliveryAdmissionTests
{
    [Fact]
    public async Task Publishes_beyond_the_pending_delivery_bound_are_refused_until_the_worker_catches_up()
    {
        await using var h = new Harness(o => { o.WorkerCount = 1; o.MaxPendingDeliveries = 12; }, start: false);
        var d = h.Dispatcher;
        var inboxes = Enumerable.Range(0, 5).Select(i => h.Connect($"s{i}")).ToList();

        // A broadcast costs one delivery per connection: 5, 10, then 15 > 12 is refused.
        Assert.Equal(Gateway.Protocol.Errors.ErrorCode.None, d.TryPublish("broadcast", Priority.Normal, [1]));
        Assert.Equal(Gateway.Protocol.Errors.ErrorCode.None, d.TryPublish("broadcast", Priority.Normal, [2]));
        Assert.Equal(Gateway.Protocol.Errors.ErrorCode.Overloaded, d.TryPublish("broadcast", Priority.Normal, [3]));
        Assert.Equal(1, d.GetStats().RejectedOverloaded);

        // Each priority has its own bound: a saturated normal backlog does not block critical.
        Assert.Equal(Gateway.Protocol.Errors.ErrorCode.None, d.TryPublish("broadcast", Priority.Critical, [4]));

        d.Start();
        foreach (var inbox in inboxes)
        {
            Assert.True(await inbox.WaitForMessagesAsync(3));
        }

        Assert.Equal(Gateway.Protocol.Errors.ErrorCode.None, d.TryPublish("broadcast", Priority.Normal, [5]));
        Assert.True(await inboxes[0].WaitForMessagesAsync(4));
    }

    [Fact]
    public async Task One_publish_is_admitted_into_an_empty_backlog_whatever_its_size()
    {
        await using var h = new Harness(o => { o.WorkerCount = 1; o.MaxPendingDeliveries = 2; }, start: false);
        var inboxes = Enumerable.Range(0, 4).Select(i => h.Connect($"s{i}")).ToList();
        Assert.Equal(Gateway.Protocol.Errors.ErrorCode.None, h.Dispatcher.TryPublish("broadcast", Priority.Low, [1]));
        Assert.Equal(Gateway.Protocol.Errors.ErrorCode.Overloaded, h.Dispatcher.TryPublish("broadcast", Priority.Low, [2]));
        h.Dispatcher.Start();
        Assert.True(await inboxes[3].WaitForMessagesAsync(1));
    }
}
