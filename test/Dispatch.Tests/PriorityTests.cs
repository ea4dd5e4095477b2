using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests;

public class PriorityTests
{
    [Fact]
    public async Task Critical_is_dispatched_ahead_of_queued_low()
    {
        await using var h = new Harness(o => { o.WorkerCount = 1; o.Outbound = new OutboundQueueOptions { MaxFrames = 10_000, MaxBytes = 1 << 24 }; }, start: false);
        var d = h.Dispatcher;
        var a = h.Connect("a");
        d.Subscribe(a.Session, "lo", null, 1, 10);
        d.Subscribe(a.Session, "hi", null, 2, 10);
        for (var i = 0; i < 500; i++)
        {
            d.TryPublish("lo", Priority.Low, [1]);
        }

        for (var i = 0; i < 20; i++)
        {
            d.TryPublish("hi", Priority.Critical, [2]);
        }

        d.Start();
        Assert.True(await a.WaitForMessagesAsync(520));
        var order = a.Messages.Select(m => m.Priority).ToList();
        // Every critical message was dispatched before the first low one, although enqueued after all of them.
        Assert.Equal(Enumerable.Repeat(Priority.Critical, 20), order.Take(20));
        Assert.Equal(500, order.Skip(20).Count(p => p == Priority.Low));
    }

    [Fact]
    public async Task Low_progresses_under_sustained_critical_load_by_the_documented_weights()
    {
        await using var h = new Harness(o => { o.WorkerCount = 1; o.RingCapacity = 8192; }, start: false);
        var d = h.Dispatcher;
        var worker = d.Workers[0];
        for (var i = 0; i < 8000; i++)
        {
            d.TryPublish("c", Priority.Critical, [0]);
            if (i < 2000)
            {
                d.TryPublish("l", Priority.Low, [3]);
                d.TryPublish("n", Priority.Normal, [2]);
            }
        }

        // Drive the worker loop by hand: each cycle takes 1024 critical, 512 high, 256 normal, 128 low.
        for (var cycle = 1; cycle <= 5; cycle++)
        {
            worker.RunCycle();
            var stats = d.GetStats();
            Assert.Equal(1024L * cycle, stats.Dispatched[(int)Priority.Critical]);
            Assert.Equal(256L * cycle, stats.Dispatched[(int)Priority.Normal]);
            Assert.Equal(128L * cycle, stats.Dispatched[(int)Priority.Low]);
            Assert.True(stats.RingDepth[(int)Priority.Critical] > 0); // critical was still backlogged
        }
    }
}
