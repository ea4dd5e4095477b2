using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests;

public class BroadcastTests
{
    [Fact]
    public async Task Broadcast_reaches_every_session_in_order_and_is_split_across_workers()
    {
        const int sessions = 300;
        const int broadcasts = 30;
        await using var h = new Harness(o => { o.WorkerCount = 2; o.Outbound = new OutboundQueueOptions { MaxFrames = 1000 }; });
        var d = h.Dispatcher;
        var inboxes = Enumerable.Range(0, sessions).Select(i => h.Connect($"s{i}", i % 2 == 0 ? $"u{i}" : null)).ToList();
        var priorities = new[] { Priority.Low, Priority.Critical, Priority.Normal, Priority.High };
        for (var i = 0; i < broadcasts; i++)
        {
            Assert.Equal(Gateway.Protocol.Errors.ErrorCode.None, d.TryPublish("broadcast", priorities[i % 4], [(byte)i]));
        }

        foreach (var inbox in inboxes)
        {
            Assert.True(await inbox.WaitForMessagesAsync(broadcasts), $"{inbox.Session.ConnectionId}: {inbox.Messages.Count}");
            var offsets = inbox.Messages.Select(m => m.Offset).ToList();
            Assert.Equal(Enumerable.Range(1, broadcasts).Select(i => (ulong)i), offsets);
            Assert.All(inbox.Messages, m => Assert.Equal("broadcast", m.Topic));
        }

        Assert.True(await Harness.EventuallyAsync(() => d.GetStats().Deliveries == sessions * broadcasts));
        var stats = d.GetStats();
        Assert.Equal(sessions * broadcasts, stats.Deliveries);
        Assert.All(stats.BroadcastSlicesByWorker, slices => Assert.Equal(broadcasts, slices));
        Assert.All(stats.DeliveriesByWorker, n => Assert.Equal(sessions / 2 * broadcasts, n));
    }

    [Fact]
    public async Task Disconnected_sessions_stop_receiving_broadcasts()
    {
        await using var h = new Harness();
        var a = h.Connect("a");
        var b = h.Connect("b");
        await h.Dispatcher.PublishAsync("broadcast", Priority.Normal, new byte[] { 1 });
        Assert.True(await a.WaitForMessagesAsync(1));
        Assert.True(await b.WaitForMessagesAsync(1)); // b's slice may belong to the other worker: let it deliver first
        h.Dispatcher.Disconnect(b.Session);
        await h.Dispatcher.PublishAsync("broadcast", Priority.Normal, new byte[] { 2 });
        Assert.True(await a.WaitForMessagesAsync(2));
        Assert.True(await Harness.EventuallyAsync(() => h.Dispatcher.GetStats().Deliveries >= 3));
        Assert.Equal(3, h.Dispatcher.GetStats().Deliveries);
    }
}
