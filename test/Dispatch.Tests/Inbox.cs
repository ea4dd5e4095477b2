using System.Buffers;
using Gateway.Protocol;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests;

/// <summary>A decoded frame, copied out of its pooled buffer.</summary>
public sealed record Received(FrameKind Kind, FrameFlags Flags, string Topic, ulong Epoch, ulong Offset, Priority Priority, uint CorrelationId, byte[] Payload, ErrorCode Error)
{
    public bool IsMessage => Kind == FrameKind.Message;
}

/// <summary>
/// An in-memory connection: reads its session's outbound queue like the host's write loop would
/// (DrainTo, then release every buffer) and decodes each frame with FrameReader.
/// </summary>
public sealed class Inbox
{
    private readonly List<FrameBuffer> _batch = [];
    private readonly Lock _lock = new();
    private readonly List<Received> _frames = [];
    private int _waiting;

    public Inbox(Session session)
    {
        Session = session;
    }

    public Session Session { get; }

    public int Drains { get; private set; }

    public IReadOnlyList<Received> Frames
    {
        get
        {
            lock (_lock)
            {
                return [.. _frames];
            }
        }
    }

    public IReadOnlyList<Received> Messages => [.. Frames.Where(f => f.IsMessage)];

    public IReadOnlyList<Received> MessagesOf(string topic) => [.. Frames.Where(f => f.IsMessage && f.Topic == topic)];

    /// <summary>Takes and decodes everything queued now; returns the number of frames.</summary>
    public int Pump()
    {
        lock (_lock)
        {
            var n = Session.Outbound.DrainTo(_batch);
            if (n > 0)
            {
                Drains++;
            }

            foreach (var buffer in _batch)
            {
                try
                {
                    _frames.Add(Decode(buffer.Memory));
                }
                finally
                {
                    buffer.Release();
                }
            }

            _batch.Clear();
            return n;
        }
    }

    /// <summary>Pumps until <paramref name="condition"/> holds (true) or the timeout passes (false).</summary>
    public async Task<bool> WaitUntilAsync(Func<Inbox, bool> condition, double seconds = 20)
    {
        // The queue has a single reader: a second concurrent wait would reset the first one's continuation and
        // hang its test forever (no timeout can fire for a dropped continuation). Fail loudly instead.
        if (Interlocked.Exchange(ref _waiting, 1) != 0)
        {
            throw new InvalidOperationException("Inbox.WaitUntilAsync is already waiting on this session: one reader only.");
        }

        try
        {
            return await WaitUntilCoreAsync(condition, seconds);
        }
        finally
        {
            Volatile.Write(ref _waiting, 0);
        }
    }

    private async Task<bool> WaitUntilCoreAsync(Func<Inbox, bool> condition, double seconds)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        while (true)
        {
            Pump();
            if (condition(this))
            {
                return true;
            }

            bool more;
            var cancelled = false;
            try
            {
                more = await Session.Outbound.WaitToReadAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                more = false;
                cancelled = true;
            }

            // Workers wake readers inline (DispatcherOptions.WakeInline): hop off the worker thread before
            // running test code, which may block or even dispose the dispatcher (the gateway's write loop
            // never does either on the worker).
            await Task.Yield();
            if (cancelled || !more)
            {
                Pump();
                return condition(this);
            }
        }
    }

    public Task<bool> WaitForMessagesAsync(int count, double seconds = 20) => WaitUntilAsync(i => i.Messages.Count >= count, seconds);

    public static Received Decode(ReadOnlyMemory<byte> bytes)
    {
        var sequence = new ReadOnlySequence<byte>(bytes);
        Assert.True(FrameReader.TryRead(sequence, ProtocolLimits.Default, out var frame, out var consumed));
        Assert.Equal(bytes.Length, (int)sequence.Slice(0, consumed).Length);
        var topic = frame.Kind is FrameKind.Message or FrameKind.Subscribed or FrameKind.Unsubscribed ? frame.TopicString : string.Empty;
        return new Received(frame.Kind, frame.Flags, topic, frame.Epoch, frame.Offset, frame.Priority, frame.CorrelationId, frame.Payload.ToArray(), frame.ErrorCode);
    }
}
