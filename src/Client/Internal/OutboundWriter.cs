using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using Gateway.Protocol;

namespace Gateway.Client.Internal;

/// <summary>
/// Coalesces outgoing frames: producers encode frames into a shared buffer under a short lock, and
/// one writer loop swaps it out and sends everything queued so far in as few transport writes as
/// possible (one WebSocket message may carry several whole frames). Bounded: producers that find
/// more than the limit queued wait until the writer has drained it.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "_signal is a SemaphoreSlim whose AvailableWaitHandle is never read (no OS resource); producers may Release it after the writer completes, so it is not disposed under them.")]
internal sealed class OutboundWriter
{
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly int _maxPendingBytes;
    private readonly int _maxBatchBytes;
    private ArrayBufferWriter<byte> _pending = new(4096);
    private ArrayBufferWriter<byte> _sending = new(4096);
    private bool _scheduled;
    private bool _completed;
    private TaskCompletionSource _drained = NewDrained();
    private long _lastSentTicks = Environment.TickCount64;

    public OutboundWriter(int maxPendingBytes, int maxBatchBytes)
    {
        _maxPendingBytes = maxPendingBytes;
        _maxBatchBytes = maxBatchBytes;
    }

    /// <summary>Bytes queued and not yet handed to the transport.</summary>
    public int PendingBytes
    {
        get
        {
            lock (_lock)
            {
                return _pending.WrittenCount;
            }
        }
    }

    /// <summary>When the transport last accepted a write (<see cref="Environment.TickCount64"/> ms).</summary>
    public long LastSentTicks => Interlocked.Read(ref _lastSentTicks);

    /// <summary>Encodes one or more frames atomically (they stay adjacent and in order).</summary>
    /// <returns>False when the writer has been completed (connection gone); nothing was queued.</returns>
    public bool TryWrite<TState>(TState state, Action<IBufferWriter<byte>, TState> encode)
    {
        bool signal;
        lock (_lock)
        {
            if (_completed)
            {
                return false;
            }

            var before = _pending.WrittenCount;
            try
            {
                encode(_pending, state);
            }
            catch
            {
                // An encoder that throws (invalid topic, too-long field) must not leave half a frame behind.
                Truncate(_pending, before);
                throw;
            }

            signal = !_scheduled;
            _scheduled = true;
        }

        if (signal)
        {
            _signal.Release();
        }

        return true;
    }

    /// <summary>Waits while more than the pending limit is queued (backpressure for bulk producers).</summary>
    public Task WaitForSpaceAsync(CancellationToken cancellationToken)
    {
        Task drained;
        lock (_lock)
        {
            if (_completed || _pending.WrittenCount < _maxPendingBytes)
            {
                return Task.CompletedTask;
            }

            drained = _drained.Task;
        }

        return drained.WaitAsync(cancellationToken);
    }

    /// <summary>Stops accepting frames and wakes the writer loop so it can end.</summary>
    public void Complete()
    {
        TaskCompletionSource drained;
        lock (_lock)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            drained = _drained;
        }

        drained.TrySetResult();
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled: the loop wakes anyway.
        }
    }

    /// <summary>
    /// The writer loop: waits for queued frames, swaps buffers and sends the batch (split on frame
    /// boundaries at <c>maxBatchBytes</c>). Ends when completed, or throws the transport's error.
    /// </summary>
    public async Task RunAsync(Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask> send, CancellationToken cancellationToken)
    {
        while (true)
        {
            await _signal.WaitAsync(cancellationToken).ConfigureAwait(false);
            TaskCompletionSource drained;
            bool completed;
            lock (_lock)
            {
                (_pending, _sending) = (_sending, _pending);
                _scheduled = false;
                completed = _completed;
                drained = _drained;
                _drained = NewDrained();
            }

            var batch = _sending.WrittenMemory;
            while (!batch.IsEmpty)
            {
                var take = SplitPoint(batch.Span, _maxBatchBytes);
                await send(batch[..take], cancellationToken).ConfigureAwait(false);
                Interlocked.Exchange(ref _lastSentTicks, Environment.TickCount64);
                batch = batch[take..];
            }

            // Keep a big burst's buffer from being pinned forever by an idle connection.
            if (_sending.Capacity > 1024 * 1024)
            {
                _sending = new ArrayBufferWriter<byte>(4096);
            }
            else
            {
                _sending.ResetWrittenCount();
            }

            drained.TrySetResult();
            if (completed)
            {
                return;
            }
        }
    }

    /// <summary>Length of the longest prefix made of whole frames not above <paramref name="max"/> (at least one frame).</summary>
    internal static int SplitPoint(ReadOnlySpan<byte> frames, int max)
    {
        var position = 0;
        while (position + ProtocolLimits.HeaderSize <= frames.Length)
        {
            var size = ProtocolLimits.HeaderSize + (int)BinaryPrimitives.ReadUInt32BigEndian(frames[position..]);
            if (position > 0 && position + size > max)
            {
                break;
            }

            position += size;
        }

        return Math.Min(position, frames.Length);
    }

    private static void Truncate(ArrayBufferWriter<byte> writer, int length)
    {
        if (writer.WrittenCount == length)
        {
            return;
        }

        var keep = writer.WrittenSpan[..length].ToArray();
        writer.ResetWrittenCount();
        writer.Write(keep);
    }

    private static TaskCompletionSource NewDrained() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
