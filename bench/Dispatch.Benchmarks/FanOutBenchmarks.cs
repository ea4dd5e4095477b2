using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Benchmarks;

/// <summary>
/// Fan-out of one 64-byte message to N in-memory sessions (one operation = one message to all N;
/// per-recipient figures are the mean and allocation divided by N).
/// <c>Dispatcher</c>: TryPublish (serialize once into a pooled buffer) → the owning worker's cycle
/// (offset, history, fan-out of the shared buffer to N outbound queues) → every queue drained and
/// every reference released, as a writer loop would. The worker cycle runs on the benchmark thread
/// (an unstarted dispatcher), so this is the CPU cost without thread hand-off.
/// Baseline <c>ChannelPerRecipient</c>: the "simplest raw broadcaster" shape — one bounded
/// <see cref="Channel{T}"/> per connection, the frame serialized once into a fresh array, written to
/// every channel, then read back from every channel.
/// </summary>
[MemoryDiagnoser]
public class FanOutBenchmarks
{
    private readonly byte[] _payload = new byte[64];
    private readonly List<FrameBuffer> _batch = new(16);
    private Dispatcher _dispatcher = null!;
    private Session[] _sessions = [];
    private Channel<byte[]>[] _channels = [];

    [Params(1_000, 10_000)]
    public int Recipients { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _dispatcher = new Dispatcher(new DispatcherOptions { WorkerCount = 1, RingCapacity = 1024 });
        _sessions = new Session[Recipients];
        for (var i = 0; i < Recipients; i++)
        {
            _sessions[i] = _dispatcher.Connect($"c{i}", null);
            _dispatcher.Subscribe(_sessions[i], "bench/topic", null, 1, 10);
        }

        _dispatcher.Workers[0].RunCycle();
        DrainAll();
        _channels = new Channel<byte[]>[Recipients];
        for (var i = 0; i < Recipients; i++)
        {
            _channels[i] = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(64) { SingleReader = true, SingleWriter = true });
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _dispatcher.DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Baseline: one channel per connection (one message to all N; divide by N for per recipient).</summary>
    [Benchmark(Baseline = true)]
    public int ChannelPerRecipient()
    {
        var frame = new byte[FrameWriter.GetMessageSize(11, _payload.Length)];
        var writer = new FixedWriter(frame);
        FrameWriter.WriteMessage(writer, "bench/topic", Priority.Normal, 1, 1, 0, _payload);
        foreach (var channel in _channels)
        {
            channel.Writer.TryWrite(frame);
        }

        var read = 0;
        foreach (var channel in _channels)
        {
            while (channel.Reader.TryRead(out var f))
            {
                read += f.Length > 0 ? 1 : 0;
            }
        }

        return read;
    }

    /// <summary>The dispatcher: publish, one worker cycle, drain and release (one message to all N).</summary>
    [Benchmark]
    public int DispatcherFanOut()
    {
        _dispatcher.TryPublish("bench/topic", Priority.Normal, _payload);
        _dispatcher.Workers[0].RunCycle();
        return DrainAll();
    }

    private int DrainAll()
    {
        var n = 0;
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

    /// <summary>An <see cref="System.Buffers.IBufferWriter{T}"/> over a fixed array.</summary>
    private sealed class FixedWriter(byte[] array) : System.Buffers.IBufferWriter<byte>
    {
        private int _written;

        public void Advance(int count) => _written += count;

        public Memory<byte> GetMemory(int sizeHint = 0) => array.AsMemory(_written);

        public Span<byte> GetSpan(int sizeHint = 0) => array.AsSpan(_written);
    }
}
