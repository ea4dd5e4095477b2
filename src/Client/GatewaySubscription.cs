using System.Threading.Channels;
using Gateway.Client.Internal;
using Gateway.Protocol;
using Gateway.Protocol.Frames;

namespace Gateway.Client;

/// <summary>
/// A subscription to one topic. Enumerate it (<c>await foreach (var m in subscription)</c>) to get its
/// messages in offset order, with no duplicates, across reconnects. After a reconnect the client
/// resubscribes from the last delivered position; an offset gap (messages shed for a slow connection)
/// is repaired the same way. When the gateway cannot replay what was missed, a
/// <see cref="GatewayMessageKind.RecoveryFailed"/> (or, when the replay stopped early,
/// <see cref="GatewayMessageKind.RecoveryIncomplete"/>) item is yielded in order and
/// <see cref="Discontinuity"/> reports it, so the application refetches its state instead of silently
/// missing messages.
/// </summary>
public sealed class GatewaySubscription : IAsyncEnumerable<GatewayMessage>, IAsyncDisposable
{
    private const int SeenMemory = 100_000;

    private readonly GatewayClient _client;
    private readonly Channel<GatewayMessage> _channel;
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _firstSubscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Where to resume from after a reconnect (the last delivered, or the position at subscribe).
    private StreamPosition? _resumeFrom;

    // Dedupe watermark: the last position handed to the application (null = accept anything).
    private StreamPosition? _lastDelivered;
    private uint _pendingCorrelation;

    // The correlation id of the Subscribe the gateway last answered with Subscribed: a later
    // recovery_incomplete carries it.
    private uint _answeredCorrelation;
    private bool _requestedRecovery;

    // A gap was seen and the client is resubscribing with recovery: messages are dropped until Subscribed
    // (everything after the last delivered position is replayed).
    private bool _repairing;

    // The next message follows an announced discontinuity (recovery incomplete): do not report it again.
    private bool _continuityUnknown;

    // The next message is flagged AfterGap (discontinuities without a marker item: epoch change, broadcast gap).
    private bool _afterGap;

    // Notifications (user:{id}) are redelivered while pending, possibly below the high-water mark
    // (a notification shed on a slow connection comes back at the next connect): surface each
    // (epoch, offset) once instead of dropping everything at or below the last one.
    private readonly HashSet<StreamPosition>? _seen;
    private readonly Queue<StreamPosition>? _seenOrder;
    private StreamPosition? _requestedFrom;
    private SubscriptionRecovery _recovery;
    private long _delivered;
    private long _replayed;
    private long _duplicatesDropped;
    private long _gapsDetected;
    private int _disposed;

    internal GatewaySubscription(GatewayClient client, string topic, int capacity, bool automatic, StreamPosition? recoverFrom)
    {
        _client = client;
        Topic = topic;
        IsAutomatic = automatic;
        if (automatic && topic.StartsWith(Protocol.Topics.TopicRules.UserPrefix, StringComparison.Ordinal))
        {
            _seen = [];
            _seenOrder = new Queue<StreamPosition>();
        }

        _resumeFrom = recoverFrom;
        _lastDelivered = recoverFrom;
        _channel = Channel.CreateBounded<GatewayMessage>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleWriter = true,
            SingleReader = false,
        });
    }

    /// <summary>Raised after every resubscribe that asked for recovery (after a reconnect, a gap repair, or a subscribe with a start position).</summary>
    public event EventHandler<SubscriptionRecoveryEventArgs>? Resubscribed;

    /// <summary>
    /// Raised (on the receive loop, in order with the messages, before the item that follows it is
    /// queued) when the stream is not a gapless continuation: recovery failed, recovery incomplete, a gap
    /// (repaired by the client when <see cref="SubscriptionDiscontinuityEventArgs.Recovering"/>), or an
    /// epoch change. Refetch state when <see cref="SubscriptionDiscontinuityEventArgs.RequiresRefetch"/>.
    /// Keep handlers short.
    /// </summary>
    public event EventHandler<SubscriptionDiscontinuityEventArgs>? Discontinuity;

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

    /// <summary>
    /// Of <see cref="DeliveredCount"/>, the messages the gateway replayed (<see cref="GatewayMessageKind.Replayed"/>):
    /// missed while disconnected or shed, recovered on a resubscribe; for notifications, pending ones redelivered.
    /// </summary>
    public long ReplayedCount => Interlocked.Read(ref _replayed);

    /// <summary>
    /// Messages not handed to the application because it already had them: the overlap of a replay with what
    /// was delivered before a reconnect, and notifications the gateway redelivered (pending, not yet acked,
    /// or acked but the ack was lost with the connection). Each (epoch, offset) reaches the application once.
    /// </summary>
    public long DuplicatesDropped => Interlocked.Read(ref _duplicatesDropped);

    /// <summary>Offset gaps seen in the same epoch (messages shed by the gateway), repaired or not.</summary>
    public long GapsDetected => Interlocked.Read(ref _gapsDetected);

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
        SubscriptionDiscontinuityEventArgs? discontinuity = null;
        GatewayMessage? marker = null;
        lock (_lock)
        {
            if (frame.CorrelationId != _pendingCorrelation)
            {
                return;
            }

            _pendingCorrelation = 0;
            _answeredCorrelation = frame.CorrelationId;
            _repairing = false;
            _continuityUnknown = false;
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
                    discontinuity = new SubscriptionDiscontinuityEventArgs(Topic, SubscriptionDiscontinuityKind.RecoveryFailed, _requestedFrom, current, recovering: false);
                }

                report = new SubscriptionRecoveryEventArgs(Topic, _recovery, _requestedFrom, current, DateTimeOffset.UtcNow);
            }
            else
            {
                _recovery = SubscriptionRecovery.None;
                _resumeFrom = current;
            }
        }

        if (discontinuity is not null)
        {
            _client.Raise(Discontinuity, this, discontinuity);
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

    /// <summary>Whether <paramref name="correlationId"/> is the Subscribe this subscription's current server-side subscription answered.</summary>
    internal bool AnsweredBy(uint correlationId)
    {
        lock (_lock)
        {
            return correlationId != 0 && correlationId == _answeredCorrelation;
        }
    }

    /// <summary>
    /// Handles Error <c>recovery_incomplete</c> for the Subscribe this subscription was answered for: the
    /// replay stopped early; live messages follow after a gap. Yields a marker and raises <see cref="Discontinuity"/>.
    /// </summary>
    internal async ValueTask OnRecoveryIncompleteAsync(string text, CancellationToken cancellationToken)
    {
        SubscriptionDiscontinuityEventArgs discontinuity;
        GatewayMessage marker;
        lock (_lock)
        {
            _recovery = SubscriptionRecovery.Incomplete;
            _continuityUnknown = true;
            var last = _lastDelivered ?? _resumeFrom;
            discontinuity = new SubscriptionDiscontinuityEventArgs(Topic, SubscriptionDiscontinuityKind.RecoveryIncomplete, last, null, recovering: false, text);
            marker = new GatewayMessage(Topic, last?.Epoch ?? 0, last?.Offset ?? 0, Priority.Normal, DateTimeOffset.UtcNow, ReadOnlyMemory<byte>.Empty, GatewayMessageKind.RecoveryIncomplete);
        }

        _client.Raise(Discontinuity, this, discontinuity);
        await WriteAsync(marker, cancellationToken).ConfigureAwait(false);
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
    /// Delivers a Message frame unless it was already delivered: at or below the last delivered offset of
    /// the same epoch (for notifications: the same (epoch, offset) already surfaced). A gap in the same
    /// epoch on a topic subscription is not delivered: the caller repairs it (<see cref="DeliveryResult.RepairGap"/>)
    /// by resubscribing from the last delivered position, and messages are held (dropped) until Subscribed.
    /// </summary>
    internal async ValueTask<DeliveryResult> DeliverAsync(InboundFrame frame, CancellationToken cancellationToken)
    {
        GatewayMessage message;
        SubscriptionDiscontinuityEventArgs? discontinuity = null;
        var result = DeliveryResult.Delivered;
        lock (_lock)
        {
            var position = new StreamPosition(frame.Epoch, frame.Offset);
            var kind = (frame.Flags & FrameFlags.Retained) != 0 ? GatewayMessageKind.Retained
                : (frame.Flags & FrameFlags.Replayed) != 0 ? GatewayMessageKind.Replayed
                : GatewayMessageKind.Live;
            ulong missed = 0;
            if (_seen is not null)
            {
                // Notifications: at least once; pending ones come back (Replayed) on every connect until acked.
                if (!_seen.Add(position))
                {
                    Interlocked.Increment(ref _duplicatesDropped);
                    return DeliveryResult.Duplicate;
                }

                _seenOrder!.Enqueue(position);
                if (_seenOrder.Count > SeenMemory)
                {
                    _seen.Remove(_seenOrder.Dequeue());
                }
            }
            else
            {
                if (_repairing)
                {
                    return DeliveryResult.Held;
                }

                if (_lastDelivered is { } last && last.Epoch == frame.Epoch && frame.Offset <= last.Offset)
                {
                    Interlocked.Increment(ref _duplicatesDropped);
                    return DeliveryResult.Duplicate;
                }

                missed = _lastDelivered is { } previous && previous.Epoch == frame.Epoch ? frame.Offset - previous.Offset - 1 : 0;
                var baseline = _lastDelivered ?? _resumeFrom;
                if (kind != GatewayMessageKind.Retained && baseline is { } from && !_continuityUnknown)
                {
                    if (from.Epoch != frame.Epoch)
                    {
                        _afterGap = true;
                        discontinuity = new SubscriptionDiscontinuityEventArgs(Topic, SubscriptionDiscontinuityKind.EpochChanged, from, position, recovering: false);
                    }
                    else if (frame.Offset > from.Offset + 1)
                    {
                        Interlocked.Increment(ref _gapsDetected);
                        var repair = !IsAutomatic;
                        discontinuity = new SubscriptionDiscontinuityEventArgs(Topic, SubscriptionDiscontinuityKind.Gap, from, position, repair);
                        if (repair)
                        {
                            _repairing = true;
                            _resumeFrom = from;
                            result = DeliveryResult.RepairGap;
                        }
                        else
                        {
                            _afterGap = true;
                            missed = frame.Offset - from.Offset - 1;
                        }
                    }
                }

                _continuityUnknown = false;
            }

            if (result == DeliveryResult.RepairGap)
            {
                message = null!;
            }
            else
            {
                message = new GatewayMessage(Topic, frame.Epoch, frame.Offset, frame.Priority, DateTimeOffset.FromUnixTimeMilliseconds(frame.Value), frame.Payload, kind, missed, _afterGap);
                _afterGap = false;
                _lastDelivered = position;
                _resumeFrom = position;
            }
        }

        if (discontinuity is not null)
        {
            _client.Raise(Discontinuity, this, discontinuity);
        }

        if (result == DeliveryResult.RepairGap)
        {
            return result;
        }

        await WriteAsync(message, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _delivered);
        if (message.Kind == GatewayMessageKind.Replayed)
        {
            Interlocked.Increment(ref _replayed);
        }

        return DeliveryResult.Delivered;
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

/// <summary>What <see cref="GatewaySubscription.DeliverAsync"/> did with a message.</summary>
internal enum DeliveryResult
{
    /// <summary>Handed to the application.</summary>
    Delivered,

    /// <summary>Already delivered: dropped.</summary>
    Duplicate,

    /// <summary>Dropped while a gap repair is under way (it will be replayed).</summary>
    Held,

    /// <summary>A gap: not delivered; the caller must resubscribe with recovery from <see cref="GatewaySubscription.Position"/>.</summary>
    RepairGap,
}
