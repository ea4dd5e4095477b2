using System.Threading.Channels;
using Gateway.Client.Internal;
using Gateway.Protocol;
using Gateway.Protocol.Frames;

namespace Gateway.Client;

/// <summary>
/// A subscription to one topic. Enumerate it (<c>await foreach (var m in subscription)</c>) to get its
/// messages in offset order, with no duplicates, across reconnects. After a reconnect the client
/// resubscribes from the last delivered position; when the gateway cannot replay what was missed, a
/// <see cref="GatewayMessageKind.RecoveryFailed"/> item is yielded in order and <see cref="Resubscribed"/>
/// reports it, so the application refetches its state instead of silently missing messages.
/// </summary>
public sealed class GatewaySubscription : IAsyncEnumerable<GatewayMessage>, IAsyncDisposable
{
    private readonly GatewayClient _client;
    private readonly Channel<GatewayMessage> _channel;
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _firstSubscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Where to resume from after a reconnect (the last delivered, or the position at subscribe).
    private StreamPosition? _resumeFrom;

    // Dedupe watermark: the last position handed to the application (null = accept anything).
    private StreamPosition? _lastDelivered;
    private uint _pendingCorrelation;
    private bool _requestedRecovery;
    private StreamPosition? _requestedFrom;
    private SubscriptionRecovery _recovery;
    private long _delivered;
    private long _duplicatesDropped;
    private int _disposed;

    internal GatewaySubscription(GatewayClient client, string topic, int capacity, bool automatic, StreamPosition? recoverFrom)
    {
        _client = client;
        Topic = topic;
        IsAutomatic = automatic;
        _resumeFrom = recoverFrom;
        _lastDelivered = recoverFrom;
        _channel = Channel.CreateBounded<GatewayMessage>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleWriter = true,
            SingleReader = false,
        });
    }

    /// <summary>Raised after every resubscribe that asked for recovery (after a reconnect, or a subscribe with a start position).</summary>
    public event EventHandler<SubscriptionRecoveryEventArgs>? Resubscribed;

    /// <summary>The topic.</summary>
    public string Topic { get; }

    /// <summary>Whether the gateway subscribes this topic by itself (the user's notifications, broadcast).</summary>
    public bool IsAutomatic { get; }

    /// <summary>The outcome of the last resubscribe.</summary>
    public SubscriptionRecovery Recovery
    {
        get
        {
            lock (_lock)
            {
                return _recovery;
            }
        }
    }

    /// <summary>
    /// The position recovery resumes from: the last delivered message's, or the topic's position when
    /// subscribed. Persist it to resume in a later process with
    /// <see cref="GatewayClient.SubscribeAsync(string, StreamPosition, CancellationToken)"/>.
    /// </summary>
    public StreamPosition? Position
    {
        get
        {
            lock (_lock)
            {
                return _resumeFrom;
            }
        }
    }

    /// <summary>Messages handed to the application so far.</summary>
    public long DeliveredCount => Interlocked.Read(ref _delivered);

    /// <summary>Messages dropped because they had already been delivered (replays across reconnects).</summary>
    public long DuplicatesDropped => Interlocked.Read(ref _duplicatesDropped);

    /// <summary>The buffered items; prefer enumerating the subscription.</summary>
    public ChannelReader<GatewayMessage> Messages => _channel.Reader;

    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    internal Task FirstSubscribed => _firstSubscribed.Task;

    /// <summary>Reads the messages until the subscription ends (unsubscribed, client disposed, or the client gave up reconnecting: then throws).</summary>
    public IAsyncEnumerable<GatewayMessage> ReadAllAsync(CancellationToken cancellationToken = default) => _channel.Reader.ReadAllAsync(cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerator<GatewayMessage> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        _channel.Reader.ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

    /// <summary>Acknowledges a notification of this subscription (see <see cref="GatewayClient.AckAsync(GatewayMessage, CancellationToken)"/>).</summary>
    public ValueTask AckAsync(GatewayMessage message, CancellationToken cancellationToken = default) => _client.AckAsync(message, cancellationToken);

    /// <summary>Leaves the topic and ends the enumeration (waits for the gateway's confirmation when connected).</summary>
    public Task UnsubscribeAsync(CancellationToken cancellationToken = default) => _client.UnsubscribeAsync(this, cancellationToken);

    /// <summary>Unsubscribes (best effort) and ends the enumeration.</summary>
    public async ValueTask DisposeAsync()
    {
        if (IsDisposed)
        {
            return;
        }

        try
        {
            await UnsubscribeAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is GatewayException or TimeoutException or ObjectDisposedException or OperationCanceledException)
        {
            // The subscription is gone locally either way.
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Topic} (position {Position?.ToString() ?? "none"}, {Recovery})";

    /// <summary>Prepares a (re)subscribe with <paramref name="correlationId"/>: returns the position to recover from.</summary>
    internal StreamPosition? BeginSubscribe(uint correlationId)
    {
        lock (_lock)
        {
            _pendingCorrelation = correlationId;
            _requestedRecovery = _resumeFrom.HasValue;
            _requestedFrom = _resumeFrom;
            return _resumeFrom;
        }
    }

    /// <summary>Handles Subscribed (on the receive loop, in order with the messages that follow it).</summary>
    internal async ValueTask OnSubscribedAsync(InboundFrame frame, CancellationToken cancellationToken)
    {
        SubscriptionRecoveryEventArgs? report = null;
        GatewayMessage? marker = null;
        lock (_lock)
        {
            if (frame.CorrelationId != _pendingCorrelation)
            {
                return;
            }

            _pendingCorrelation = 0;
            var current = new StreamPosition(frame.Epoch, frame.Offset);
            if (_requestedRecovery)
            {
                // Recovery asked but not confirmed complete counts as failed: a gap must never be silent.
                _recovery = (frame.Flags & FrameFlags.Recovered) != 0 ? SubscriptionRecovery.Recovered : SubscriptionRecovery.Failed;
                if (_recovery == SubscriptionRecovery.Failed)
                {
                    _lastDelivered = null;
                    _resumeFrom = current;
                    marker = new GatewayMessage(Topic, frame.Epoch, frame.Offset, Priority.Normal, DateTimeOffset.UtcNow, ReadOnlyMemory<byte>.Empty, GatewayMessageKind.RecoveryFailed);
                }

                report = new SubscriptionRecoveryEventArgs(Topic, _recovery, _requestedFrom, current);
            }
            else
            {
                _recovery = SubscriptionRecovery.None;
                _resumeFrom = current;
            }
        }

        if (marker is not null)
        {
            await WriteAsync(marker, cancellationToken).ConfigureAwait(false);
        }

        _firstSubscribed.TrySetResult();
        if (report is not null)
        {
            _client.Raise(Resubscribed, this, report);
        }
    }

    /// <summary>Handles an Error answering this subscription's Subscribe.</summary>
    internal bool OnSubscribeFailed(uint correlationId, GatewayException error)
    {
        lock (_lock)
        {
            if (correlationId != _pendingCorrelation)
            {
                return false;
            }

            _pendingCorrelation = 0;
        }

        if (!_firstSubscribed.TrySetException(error))
        {
            // A resubscribe was refused (for example the refreshed token lost the permission): end the stream loudly.
            Complete(error);
        }

        return true;
    }

    /// <summary>
    /// Delivers a Message frame unless it was already delivered (offset at or below the watermark in
    /// the same epoch). Returns false for a dropped duplicate.
    /// </summary>
    internal async ValueTask<bool> DeliverAsync(InboundFrame frame, CancellationToken cancellationToken)
    {
        GatewayMessage message;
        lock (_lock)
        {
            if (_lastDelivered is { } last && last.Epoch == frame.Epoch && frame.Offset <= last.Offset)
            {
                Interlocked.Increment(ref _duplicatesDropped);
                return false;
            }

            var missed = _lastDelivered is { } previous && previous.Epoch == frame.Epoch ? frame.Offset - previous.Offset - 1 : 0;
            var kind = (frame.Flags & FrameFlags.Retained) != 0 ? GatewayMessageKind.Retained
                : (frame.Flags & FrameFlags.Replayed) != 0 ? GatewayMessageKind.Replayed
                : GatewayMessageKind.Live;
            message = new GatewayMessage(Topic, frame.Epoch, frame.Offset, frame.Priority, DateTimeOffset.FromUnixTimeMilliseconds(frame.Value), frame.Payload, kind, missed);
            _lastDelivered = message.Position;
            _resumeFrom = message.Position;
        }

        await WriteAsync(message, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _delivered);
        return true;
    }

    /// <summary>Ends the enumeration (with an error when the client gave up).</summary>
    internal void Complete(Exception? error)
    {
        Interlocked.Exchange(ref _disposed, 1);
        _channel.Writer.TryComplete(error);
        _firstSubscribed.TrySetException(error ?? new ObjectDisposedException(nameof(GatewaySubscription)));
        _ = _firstSubscribed.Task.Exception;
    }

    private async ValueTask WriteAsync(GatewayMessage message, CancellationToken cancellationToken)
    {
        try
        {
            await _channel.Writer.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            // Unsubscribed meanwhile: nobody reads any more.
        }
    }
}
