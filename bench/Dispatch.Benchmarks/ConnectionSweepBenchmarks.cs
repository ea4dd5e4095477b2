using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Gateway.Hosting;

namespace Gateway.Dispatch.Benchmarks;

/// <summary>
/// One sweeper tick at 19,000 registered connections (issue 14 item 4). Baseline: the old registry, a
/// <see cref="ConcurrentDictionary{TKey, TValue}"/> whose <c>Values</c> snapshot (all bucket locks, a 152 KB array on the
/// large-object heap) was walked every tick. New: <see cref="SweepTable{T}"/> walked in place, with the default budget
/// (every connection per tick) and with a budget of 2,048 (the slice one tick costs when N exceeds the budget).
/// The connection is a stand-in with the same per-tick work as ClientConnection.Tick on an idle authenticated connection:
/// a few volatile reads and two rate-limit counter refills.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.Throughput, launchCount: 1, warmupCount: 3, iterationCount: 8)]
public class ConnectionSweepBenchmarks
{
    private const int Connections = 19_000;
    private readonly ConcurrentDictionary<long, FakeConnection> _dictionary = new();
    private readonly SweepTable<FakeConnection> _table = new();

    [GlobalSetup]
    public void Setup()
    {
        for (var i = 0; i < Connections; i++)
        {
            var connection = new FakeConnection();
            _dictionary[i] = connection;
            _table.Add(connection);
        }
    }

    [Benchmark(Baseline = true, Description = "old: ConcurrentDictionary.Values snapshot, all 19,000")]
    public void SnapshotTick()
    {
        var now = Environment.TickCount64;
        foreach (var connection in _dictionary.Values)
        {
            connection.Tick(now);
        }
    }

    [Benchmark(Description = "new: SweepTable in place, budget 20,000 (all 19,000)")]
    public void SweepTickDefaultBudget()
    {
        var visitor = new TickVisitor(Environment.TickCount64);
        _table.Sweep(ConnectionSweeper.BudgetPerTick, ref visitor);
    }

    [Benchmark(Description = "new: SweepTable in place, budget 2,048 (one slice)")]
    public void SweepTickBudget2048()
    {
        var visitor = new TickVisitor(Environment.TickCount64);
        _table.Sweep(2_048, ref visitor);
    }

    private readonly struct TickVisitor(long now) : ISweepVisitor<FakeConnection>
    {
        public void Visit(FakeConnection item) => item.Tick(now);
    }

    /// <summary>The per-tick work of an idle connection (ClientConnection.Tick): state reads and two rate-limit counter refills.</summary>
    private sealed class FakeConnection
    {
        private long _frameTokens = 4_000;
        private long _byteTokens = 8 * 1024 * 1024;
        private long _lastReceiveMs = Environment.TickCount64;
        private long _lastPingMs = Environment.TickCount64;
        private int _closing;

        /// <summary>Marks the connection closing (ticks then skip it, as ClientConnection.Tick does).</summary>
        public void Close() => Volatile.Write(ref _closing, 1);

        public void Tick(long now)
        {
            if (Volatile.Read(ref _closing) != 0 || now - Volatile.Read(ref _lastReceiveMs) > 45_000)
            {
                return;
            }

            if (now - _lastPingMs >= 15_000)
            {
                _lastPingMs = now;
                _lastReceiveMs = now;
            }

            Refill(ref _frameTokens, 200, 4_000);
            Refill(ref _byteTokens, 400 * 1024, 8 * 1024 * 1024);
        }

        private static void Refill(ref long tokens, long add, long limit)
        {
            while (true)
            {
                var current = Volatile.Read(ref tokens);
                if (current >= limit || Interlocked.CompareExchange(ref tokens, Math.Min(limit, current + add), current) == current)
                {
                    return;
                }
            }
        }
    }
}
