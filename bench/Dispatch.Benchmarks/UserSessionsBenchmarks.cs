using BenchmarkDotNet.Attributes;

namespace Gateway.Dispatch.Benchmarks;

/// <summary>
/// Connect and disconnect one more connection of a user that already holds N connections on the node
/// (one shared token): with the per-user registry's O(1) add and swap-remove the cost does not grow
/// with N (the copy-on-write array it replaced cost O(N) per connect and per disconnect).
/// One operation = <see cref="Dispatcher.Connect"/> + <see cref="Dispatcher.Disconnect"/> of one session.
/// </summary>
[MemoryDiagnoser]
public class UserSessionsBenchmarks
{
    private Dispatcher _dispatcher = null!;
    private Session[] _held = [];
    private long _next;

    [Params(1, 10_000)]
    public int Held { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _dispatcher = new Dispatcher(new DispatcherOptions { WorkerCount = 2 });
        _dispatcher.Start();
        _held = new Session[Held];
        for (var i = 0; i < Held; i++)
        {
            _held[i] = _dispatcher.Connect("held" + i, "shared-user");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var session in _held)
        {
            _dispatcher.Disconnect(session);
        }

        _dispatcher.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>The (N+1)th connection of the user connects and disconnects.</summary>
    [Benchmark]
    public void ConnectDisconnect()
    {
        var session = _dispatcher.Connect("c" + _next++, "shared-user");
        _dispatcher.Disconnect(session);
    }
}
