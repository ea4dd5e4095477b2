using Gateway.Protocol.Buffers;

namespace Gateway.Dispatch.Tests;

/// <summary>A dispatcher over a leak-tracking pool; disposal drains every inbox and asserts no buffer leaked.</summary>
public sealed class Harness : IAsyncDisposable
{
    private readonly List<Inbox> _inboxes = [];

    public Harness(Action<DispatcherOptions>? configure = null, bool start = true, IDispatchEngine? engine = null, TimeProvider? time = null)
    {
        Options = new DispatcherOptions { WorkerCount = 2, RingCapacity = 1024, ControlRingCapacity = 1024 };
        configure?.Invoke(Options);
        Dispatcher = new Dispatcher(Options, engine, Pool, null, time);
        if (start)
        {
            Dispatcher.Start();
        }
    }

    public TrackingFrameBufferPool Pool { get; } = new();

    public DispatcherOptions Options { get; }

    public Dispatcher Dispatcher { get; }

    public Inbox Connect(string id, string? user = null)
    {
        var inbox = new Inbox(Dispatcher.Connect(id, user));
        lock (_inboxes)
        {
            _inboxes.Add(inbox);
        }

        return inbox;
    }

    /// <summary>
    /// Polls <paramref name="condition"/> until it holds (true) or the timeout passes (false). Worker counters
    /// (deliveries, dispatched, faults, slow-consumer closes) are updated after the frames they count are
    /// already visible to readers, so a test that has seen the frames must wait for the counters.
    /// </summary>
    public static async Task<bool> EventuallyAsync(Func<bool> condition, double seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return condition();
            }

            await Task.Delay(5);
        }

        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await Dispatcher.DisposeAsync();
        lock (_inboxes)
        {
            foreach (var inbox in _inboxes)
            {
                inbox.Pump();
                Dispatcher.Disconnect(inbox.Session);
            }
        }

        Pool.AssertNoLeaks();
    }
}

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualTime : TimeProvider
{
    private long _ticks = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).UtcTicks;

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
