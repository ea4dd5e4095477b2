using System.Buffers;
using BenchmarkDotNet.Attributes;
using Gateway.Protocol;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Benchmarks;

/// <summary>
/// End to end in process, with the real worker threads: a Publish frame (64-byte payload) parsed with
/// FrameReader → <see cref="Dispatcher.TryPublish(in Frame, Session?)"/> → ring → worker → Message frames
/// in N sessions' outbound queues → every queue drained and every buffer released.
/// <c>TopicFanOut</c>: one subscribed topic (fan-out by its owning worker). <c>Broadcast</c>: the
/// broadcast topic, whose delivery is split across both workers' slices of the session registry.
/// One operation = one publish delivered to all N sessions.
/// </summary>
[MemoryDiagnoser]
public class EndToEndBenchmarks
{
    private readonly List<FrameBuffer> _batch = new(16);
    private Dispatcher _dispatcher = null!;
    private Session[] _sessions = [];
    private byte[] _topicFrame = [];
    private byte[] _broadcastFrame = [];

    [Params(1_000)]
    public int Sessions { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _dispatcher = new Dispatcher(new DispatcherOptions { WorkerCount = 2 });
        _dispatcher.Start();
        _sessions = new Session[Sessions];
        for (var i = 0; i < Sessions; i++)
        {
            _sessions[i] = _dispatcher.Connect($"c{i}", null);
            _dispatcher.Subscribe(_sessions[i], "bench/e2e", null, 1, 10);
        }

        while (_sessions.Any(s => s.Outbound.Count == 0))
        {
            Thread.Yield();
        }

        DrainAll();
        _topicFrame = Encode("bench/e2e");
        _broadcastFrame = Encode("broadcast");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _dispatcher.DisposeAsync().AsTask().GetAwaiter().GetResult();
        DrainAll();
    }

    /// <summary>Publish to a topic with N subscribers.</summary>
    [Benchmark(Baseline = true)]
    public long TopicFanOut() => PublishAndDrain(_topicFrame);

    /// <summary>Publish to "broadcast" (N connections, delivered by both workers).</summary>
    [Benchmark]
    public long Broadcast() => PublishAndDrain(_broadcastFrame);

    private long PublishAndDrain(byte[] encoded)
    {
        var target = _dispatcher.TotalDeliveries() + Sessions;
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(encoded));
        if (!FrameReader.TryRead(ref reader, ProtocolLimits.Default, out var frame))
        {
            throw new InvalidOperationException("incomplete frame");
        }

        while (_dispatcher.TryPublish(frame, null) != Gateway.Protocol.Errors.ErrorCode.None)
        {
            Thread.Yield();
        }

        var spin = default(SpinWait);
        while (_dispatcher.TotalDeliveries() < target)
        {
            spin.SpinOnce(sleep1Threshold: -1);
        }

        return DrainAll();
    }

    private static byte[] Encode(string topic)
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameWriter.WritePublish(writer, 0, Priority.Normal, topic, new byte[64]);
        return writer.WrittenSpan.ToArray();
    }

    private long DrainAll()
    {
        long n = 0;
        foreach (var session in _sessions)
        {
            n += session.Outbound.DrainTo(_batch);
            foreach (var buffer in _batch)
            {
                buffer.Release();
            }

            _batch.Clear();
        }

        return n;
    }
}
