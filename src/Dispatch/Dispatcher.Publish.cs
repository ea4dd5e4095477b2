using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Gateway.Protocol;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch;

/// <summary>
/// Publishing: the four entry points (string/UTF-8 topic, Publish frame, awaitable), admission into the
/// priority rings, offset assignment on the owner and fan-out (topic subscribers, broadcast slices).
/// </summary>
public sealed partial class Dispatcher
{
    /// <summary>
    /// Publishes without waiting. Returns None when accepted (a PublishAck is queued to
    /// <paramref name="ackTo"/> once the offset is assigned, when <paramref name="correlationId"/> != 0),
    /// Overloaded when the ring is full (retryable), PayloadTooLarge, InvalidTopic, InvalidPriority,
    /// ServerShuttingDown or EngineUnavailable. Allocates nothing for a known topic.
    /// </summary>
    public ErrorCode TryPublish(string topic, Priority priority, ReadOnlySpan<byte> payload, Session? ackTo = null, uint correlationId = 0)
    {
        ArgumentNullException.ThrowIfNull(topic);
        var error = CheckPublish(priority, payload.Length);
        if (error == ErrorCode.None)
        {
            error = TryGetOrCreateTopic(topic, out var state);
            if (error == ErrorCode.None)
            {
                return Enqueue(state, priority, payload, ackTo, correlationId, null);
            }
        }

        Counters.CountReject(error);
        return error;
    }

    /// <summary>Publishes with a UTF-8 topic (as decoded from a Publish frame); allocates nothing for a known topic.</summary>
    public ErrorCode TryPublish(ReadOnlySpan<byte> topicUtf8, Priority priority, ReadOnlySpan<byte> payload, Session? ackTo = null, uint correlationId = 0)
    {
        var error = CheckPublish(priority, payload.Length);
        if (error == ErrorCode.None)
        {
            error = TryGetOrCreateTopic(topicUtf8, out var state);
            if (error == ErrorCode.None)
            {
                return Enqueue(state, priority, payload, ackTo, correlationId, null);
            }
        }

        Counters.CountReject(error);
        return error;
    }

    /// <summary>Publishes a decoded Publish frame (topic, priority, payload, correlation id); allocates nothing for a known topic.</summary>
    public ErrorCode TryPublish(in Frame publish, Session? ackTo)
    {
        if (publish.Kind != FrameKind.Publish)
        {
            throw new ArgumentException("Not a Publish frame.", nameof(publish));
        }

        Span<byte> topic = stackalloc byte[ProtocolLimits.MaxTopicBytes];
        var topicLength = (int)Math.Min(publish.Topic.Length, ProtocolLimits.MaxTopicBytes);
        publish.Topic.Slice(0, topicLength).CopyTo(topic);
        var payload = publish.Payload;
        if (payload.IsSingleSegment)
        {
            return TryPublish(topic[..topicLength], publish.Priority, payload.FirstSpan, ackTo, publish.CorrelationId);
        }

        var length = (int)Math.Min(payload.Length, int.MaxValue);
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            payload.CopyTo(rented);
            return TryPublish(topic[..topicLength], publish.Priority, rented.AsSpan(0, length), ackTo, publish.CorrelationId);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Publishes and completes when the offset is assigned (HTTP API). Cancellation is observed only
    /// before the message is accepted; once accepted it is dispatched.
    /// </summary>
    public ValueTask<PublishResult> PublishAsync(string topic, Priority priority, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<PublishResult>(cancellationToken);
        }

        var error = CheckPublish(priority, payload.Length);
        TopicState? state = null;
        if (error == ErrorCode.None)
        {
            error = TryGetOrCreateTopic(topic, out state);
        }

        if (error == ErrorCode.None)
        {
            var completion = _completions.Get();
            completion.Prepare(_completions);
            var task = completion.Task;
            error = Enqueue(state!, priority, payload.Span, null, 0, completion);
            if (error == ErrorCode.None)
            {
                return task;
            }

            completion.Complete(new PublishResult(error, 0, 0));
            return task;
        }

        Counters.CountReject(error);
        return new ValueTask<PublishResult>(new PublishResult(error, 0, 0));
    }


    private static void PatchPosition(FrameBuffer frame, StreamPosition position)
    {
        // The frame was serialized once at publish with a zero position; the owning worker fills it in.
        MessageFrameLayout.WritePosition(MemoryMarshal.AsMemory(frame.Memory).Span, position.Epoch, position.Offset);
    }

    private ErrorCode CheckPublish(Priority priority, int payloadLength)
    {
        if (Volatile.Read(ref _state) == 2)
        {
            return ErrorCode.ServerShuttingDown;
        }

        if ((byte)priority > (byte)Priority.Low)
        {
            return ErrorCode.InvalidPriority;
        }

        if (payloadLength > _options.MaxPayloadBytes)
        {
            return ErrorCode.PayloadTooLarge;
        }

        return _engine.IsAvailable ? ErrorCode.None : ErrorCode.EngineUnavailable;
    }

    private ErrorCode Enqueue(TopicState topic, Priority priority, ReadOnlySpan<byte> payload, Session? ackTo, uint correlationId, PublishCompletion? completion)
    {
        if (topic.Kind is TopicKind.User or TopicKind.Workflow && CheckStateBudget(topic) is var refused && refused != ErrorCode.None)
        {
            Counters.CountReject(refused);
            return refused;
        }

        if (_remote is not null)
        {
            return EnqueueRemote(_remote, topic, priority, payload, ackTo, correlationId, completion);
        }

        // Serialize the outgoing frame once; the owner patches epoch and offset in place at dispatch.
        var buffer = Pool.Rent(FrameWriter.GetMessageSize(topic.Utf8.Length, payload.Length));
        FrameWriter.WriteMessage(buffer, topic.Utf8, priority, 0, 0, _time.GetUtcNow().ToUnixTimeMilliseconds(), payload);
        var item = new DispatchItem
        {
            Kind = DispatchItemKind.Publish,
            Priority = priority,
            Topic = topic,
            Buffer = buffer,
            Session = ackTo,
            CorrelationId = correlationId,
            Completion = completion,
            EnqueuedTimestamp = Stopwatch.GetTimestamp(),
            Cost = Math.Max(1, topic.Kind == TopicKind.Broadcast ? ConnectionCount : topic.Subscribers.Count),
        };
        if (topic.Owner.TryEnqueue(priority, item, _options.MaxPendingDeliveries))
        {
            return ErrorCode.None;
        }

        buffer.Release();
        Counters.CountReject(ErrorCode.Overloaded);
        return ErrorCode.Overloaded;
    }

    private void ProcessPublish(DispatchWorker worker, ref DispatchItem item)
    {
        var topic = item.Topic!;
        var buffer = item.Buffer!;
        var completion = item.Completion;
        try
        {
            var position = topic.Stream.Append(buffer, item.Priority);
            PatchPosition(buffer, position);
            Touch(worker, topic);
            if (topic.Kind == TopicKind.Workflow && !topic.HasRetained)
            {
                topic.HasRetained = true;
            }

            buffer.OrderingKey = topic; // outbound queues keep this topic's order when priorities overtake (OutboundQueue)
            _metrics.RecordLatency(item.EnqueuedTimestamp);
            AnswerPublisher(completion, item.Session, item.CorrelationId, position);
            completion = null;

            if (topic.Kind == TopicKind.Broadcast)
            {
                BroadcastFromOwner(worker, buffer, item.Priority, item.EnqueuedTimestamp);
            }
            else
            {
                FanOut(worker, topic.Subscribers, buffer, item.Priority);
            }
        }
        finally
        {
            completion?.Complete(new PublishResult(ErrorCode.InternalError, 0, 0));
            buffer.Release();
        }
    }

    /// <summary>The publisher learns its position: the awaiting call completes, a protocol publisher gets its PublishAck.</summary>
    private void AnswerPublisher(PublishCompletion? completion, Session? ackTo, uint correlationId, StreamPosition position)
    {
        completion?.Complete(new PublishResult(ErrorCode.None, position.Epoch, position.Offset));
        if (ackTo is not null && correlationId != 0)
        {
            var ack = Pool.Rent(PublishAckSize);
            FrameWriter.WritePublishAck(ack, correlationId, position.Epoch, position.Offset);
            ackTo.TryEnqueueControl(ack);
        }
    }

    private void FanOut(DispatchWorker worker, SubscriberSet subscribers, FrameBuffer buffer, Priority priority)
    {
        var count = subscribers.Count;
        if (count == 0)
        {
            return;
        }

        // One reference per recipient, taken at once; each queue consumes exactly one (queued or released).
        buffer.AddReference(count);
        var queues = subscribers.Queues;
        var delivered = 0;
        for (var i = count - 1; i >= 0; i--)
        {
            switch (queues[i].TryEnqueueMessage(buffer, priority, worker.DeferredWakes))
            {
                case EnqueueResult.Queued:
                    delivered++;
                    break;
                case EnqueueResult.ClosedSlowConsumer:
                    OnSlowConsumer(subscribers.Items[i]);
                    break;
                case EnqueueResult.Closed:
                    // Disconnected (its RemoveSubscriber item may still be queued): drop it now. Backwards
                    // iteration makes the swap-with-last removal safe.
                    subscribers.RemoveAt(i);
                    break;
            }
        }

        worker.AddDeliveries(delivered);
    }

    private void BroadcastFromOwner(DispatchWorker owner, FrameBuffer buffer, Priority priority, long enqueuedTimestamp)
    {
        // The broadcast owner assigned the offset; every other worker delivers to its own slice of the
        // session registry. Slices travel through each worker's FIFO lane, so every connection still
        // sees broadcast offsets in increasing order.
        foreach (var worker in _workers)
        {
            if (worker == owner || _slices[worker.Index].Count == 0)
            {
                continue;
            }

            buffer.AddReference();
            var slice = new DispatchItem { Kind = DispatchItemKind.BroadcastSlice, Buffer = buffer, Priority = priority, EnqueuedTimestamp = enqueuedTimestamp };
            var spin = default(SpinWait);
            while (!worker.TryEnqueueLane(slice))
            {
                if (worker.HasExited)
                {
                    // Shutting down and that worker is gone: deliver here (nobody else touches its slice now).
                    Process(worker, ref slice);
                    break;
                }

                // The lane is as deep as a priority ring; waiting here pushes back on broadcast publishers.
                spin.SpinOnce();
            }
        }

        DeliverSlice(owner, buffer, priority);
    }

    private void DeliverSlice(DispatchWorker worker, FrameBuffer buffer, Priority priority)
    {
        var slice = _slices[worker.Index];
        var delivered = 0;
        lock (slice.SyncRoot)
        {
            var items = slice.ItemsUnderLock;
            if (items.Length == 0)
            {
                return;
            }

            buffer.AddReference(items.Length);
            for (var i = items.Length - 1; i >= 0; i--)
            {
                // Backwards: a slow-consumer close removes index i by moving an already-visited session into it.
                delivered += Deliver(items[i], buffer, priority, worker.DeferredWakes);
            }
        }

        worker.CountBroadcastSlice();
        worker.AddDeliveries(delivered);
    }

    private int Deliver(Session session, FrameBuffer buffer, Priority priority, List<OutboundQueue>? deferredWakes)
    {
        switch (session.Outbound.TryEnqueueMessage(buffer, priority, deferredWakes))
        {
            case EnqueueResult.Queued:
                return 1;
            case EnqueueResult.ClosedSlowConsumer:
                OnSlowConsumer(session);
                return 0;
            default:
                return 0;
        }
    }

    private void OnSlowConsumer(Session session)
    {
        if (!session.MarkClosed())
        {
            return;
        }

        Interlocked.Increment(ref Counters.SlowConsumerCloses);
        Log.SlowConsumer(_logger, session.ConnectionId);
        RemoveFromRegistries(session);
    }
}
