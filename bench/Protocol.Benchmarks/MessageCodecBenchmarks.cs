using System.Buffers;
using BenchmarkDotNet.Attributes;
using Gateway.Protocol.Frames;

namespace Gateway.Protocol.Benchmarks;

/// <summary>
/// Parse and write of Message frames, one at a time and 16 back to back in one buffer. The baseline is a
/// plain copy of the same encoded bytes, so the ratio column says how far the codec is from memcpy.
/// Batch methods use OperationsPerInvoke = 16, so every row is per frame.
/// </summary>
[Config(typeof(BenchConfig))]
public class MessageCodecBenchmarks
{
    private const int Batch = 16;
    private static readonly byte[] TopicUtf8 = "team:42/alerts"u8.ToArray();

    private byte[] _payload = [];
    private byte[] _one = [];
    private byte[] _batch = [];
    private ReadOnlySequence<byte> _oneSequence;
    private ReadOnlySequence<byte> _batchSequence;
    private ArrayBufferWriter<byte> _output = new();

    /// <summary>Payload bytes per Message frame.</summary>
    [Params(64, 1024)]
    public int PayloadSize { get; set; }

    /// <summary>Encoded size of one benchmarked frame (used by the GB/s column).</summary>
    public static int FrameSize(int payloadSize) => FrameWriter.GetMessageSize(TopicUtf8.Length, payloadSize);

    [GlobalSetup]
    public void Setup()
    {
        _payload = new byte[PayloadSize];
        new Random(42).NextBytes(_payload);
        var w = new ArrayBufferWriter<byte>();
        FrameWriter.WriteMessage(w, TopicUtf8, Priority.Normal, 1, 1, 1_790_000_000_000, _payload);
        _one = w.WrittenSpan.ToArray();
        for (var i = 1; i < Batch; i++)
        {
            FrameWriter.WriteMessage(w, TopicUtf8, Priority.Normal, 1, (ulong)(i + 1), 1_790_000_000_000, _payload);
        }

        _batch = w.WrittenSpan.ToArray();
        _oneSequence = new ReadOnlySequence<byte>(_one);
        _batchSequence = new ReadOnlySequence<byte>(_batch);
        _output = new ArrayBufferWriter<byte>(_batch.Length * 2);
    }

    [Benchmark(Baseline = true, Description = "copy 1 frame (memcpy baseline)")]
    public int CopyOne()
    {
        _output.ResetWrittenCount();
        _one.CopyTo(_output.GetSpan(_one.Length));
        _output.Advance(_one.Length);
        return _output.WrittenCount;
    }

    [Benchmark(Description = "parse 1 frame")]
    public ulong ParseOne()
    {
        var reader = new SequenceReader<byte>(_oneSequence);
        FrameReader.TryRead(ref reader, ProtocolLimits.Default, out var frame);
        return frame.Offset + (ulong)frame.Payload.Length;
    }

    [Benchmark(Description = "write 1 frame")]
    public int WriteOne()
    {
        _output.ResetWrittenCount();
        return FrameWriter.WriteMessage(_output, TopicUtf8, Priority.Normal, 1, 1, 1_790_000_000_000, _payload);
    }

    [Benchmark(Description = "write 1 frame (string topic)")]
    public int WriteOneStringTopic()
    {
        _output.ResetWrittenCount();
        return FrameWriter.WriteMessage(_output, "team:42/alerts", Priority.Normal, 1, 1, 1_790_000_000_000, _payload);
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "parse 16-frame batch")]
    public ulong ParseBatch()
    {
        var reader = new SequenceReader<byte>(_batchSequence);
        ulong sum = 0;
        while (FrameReader.TryRead(ref reader, ProtocolLimits.Default, out var frame))
        {
            sum += frame.Offset;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "write 16-frame batch")]
    public int WriteBatch()
    {
        _output.ResetWrittenCount();
        for (var i = 0; i < Batch; i++)
        {
            FrameWriter.WriteMessage(_output, TopicUtf8, Priority.Normal, 1, (ulong)(i + 1), 1_790_000_000_000, _payload);
        }

        return _output.WrittenCount;
    }
}
