using System.Threading.Channels;
using BenchmarkDotNet.Attributes;

namespace Gateway.Dispatch.Benchmarks;

/// <summary>
/// Hand-off throughput of <see cref="RingQueue{T}"/> against a bounded <see cref="Channel{T}"/> of the same
/// capacity (the baseline), with 1 and 4 producer threads and one consumer (the benchmark thread).
/// Both use their non-blocking API (TryEnqueue/TryWrite, TryDequeue/TryRead) and spin when full/empty,
/// which is how the dispatcher uses the ring. Producers are long-lived threads released per invocation.
/// One operation = one item handed from a producer to the consumer.
/// </summary>
[MemoryDiagnoser]
public class RingQueueBenchmarks
{
    private const int Items = 1 << 16;
    private const int Capacity = 1024;

    private RingQueue<long> _ring = null!;
    private Channel<long> _channel = null!;
    private Thread[] _producers = [];
    private SemaphoreSlim _go = null!;
    private CountdownEvent _done = null!;
    private volatile bool _useRing;
    private volatile bool _stop;

    [Params(1, 4)]
    public int Producers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _ring = new RingQueue<long>(Capacity);
        _channel = Channel.CreateBounded<long>(new BoundedChannelOptions(Capacity) { SingleReader = true, SingleWriter = Producers == 1, FullMode = BoundedChannelFullMode.Wait });
        _go = new SemaphoreSlim(0);
        _done = new CountdownEvent(Producers);
        _producers = new Thread[Producers];
        for (var i = 0; i < Producers; i++)
        {
            _producers[i] = new Thread(Produce) { IsBackground = true, Name = $"bench-producer-{i}" };
            _producers[i].Start();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        _go.Release(Producers);
        foreach (var t in _producers)
        {
            t.Join();
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Items)]
    public long BoundedChannel()
    {
        _useRing = false;
        Start();
        var reader = _channel.Reader;
        long sum = 0;
        var spin = default(SpinWait);
        for (var received = 0; received < Items;)
        {
            if (reader.TryRead(out var v))
            {
                sum += v;
                received++;
            }
            else
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
        }

        _done.Wait();
        return sum;
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public long Ring()
    {
        _useRing = true;
        Start();
        var ring = _ring;
        long sum = 0;
        var spin = default(SpinWait);
        for (var received = 0; received < Items;)
        {
            if (ring.TryDequeue(out var v))
            {
                sum += v;
                received++;
            }
            else
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
        }

        _done.Wait();
        return sum;
    }

    private void Start()
    {
        _done.Reset();
        _go.Release(Producers);
    }

    private void Produce()
    {
        var perProducer = Items / Producers;
        while (true)
        {
            _go.Wait();
            if (_stop)
            {
                return;
            }

            var spin = default(SpinWait);
            if (_useRing)
            {
                for (long i = 0; i < perProducer; i++)
                {
                    while (!_ring.TryEnqueue(i))
                    {
                        spin.SpinOnce(sleep1Threshold: -1);
                    }
                }
            }
            else
            {
                var writer = _channel.Writer;
                for (long i = 0; i < perProducer; i++)
                {
                    while (!writer.TryWrite(i))
                    {
                        spin.SpinOnce(sleep1Threshold: -1);
                    }
                }
            }

            _done.Signal();
        }
    }
}
