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
