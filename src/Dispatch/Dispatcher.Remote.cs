using System.Diagnostics;
using Gateway.Protocol;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch;

/// <summary>
/// Remote engines (<see cref="IRemoteStreams"/>, e.g. Redis): the store assigns positions, so a publish is
/// appended (pipelined, off the workers) before it enters its owner's ring, and every message — this node's
/// own and other nodes' — reaches the owner as a <see cref="DispatchItemKind.Positioned"/> item. The owner
/// delivers a topic's messages strictly in offset order from its local cache position: duplicates are
/// dropped, early arrivals wait in a bounded reorder buffer, and a gap that persists (a lost pub/sub message,
/// a reconnect) is filled by reading the stream. A node receives a topic's live feed only while it has local
/// interest; interest starts by subscribing the feed, then reading the position (so nothing falls between).
/// See docs/scale-out.md.
/// </summary>
public sealed partial class Dispatcher
{
    /// <summary>How long an out-of-order arrival waits for the missing offset before the stream is read.</summary>
    private static readonly TimeSpan GapGrace = TimeSpan.FromMilliseconds(200);

    private static readonly TimeSpan EngineRetryDelay = TimeSpan.FromSeconds(1);

    private static readonly object CatchUp = new();

    private static readonly object GapCheck = new();

    private const int MaxReorder = 65_536;

    private int _remoteAppendsInFlight;

    /// <inheritdoc />
    public void DeliverRemote(string topic, StreamPosition position, long timestampMs, Priority priority, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (Volatile.Read(ref _state) == 2 || !_topics.TryGetValue(topic, out var state) || !(state.Live || state.Initializing))
        {
            return; // no local interest (the owner re-checks: a stale read only costs a dropped duplicate)
        }

        var buffer = Pool.Rent(FrameWriter.GetMessageSize(state.Utf8.Length, payload.Length));
        FrameWriter.WriteMessage(buffer, state.Utf8, (Priority)((int)priority & 3), position.Epoch, position.Offset, timestampMs, payload);
        EnqueuePositioned(new DispatchItem
        {
            Kind = DispatchItemKind.Positioned,
            Priority = (Priority)((int)priority & 3),
            Topic = state,
            Buffer = buffer,
            Epoch = position.Epoch,
            Offset = position.Offset,
            Cost = 1,
        });
    }

    /// <inheritdoc />
    public void OnEngineRestored()
    {
        var live = 0;
        foreach (var topic in _topics.Values)
        {
            if (topic.Live)
            {
                live++;
                EnqueueControlOrWait(topic.Owner, new DispatchItem { Kind = DispatchItemKind.Retry, Topic = topic, State = CatchUp });
            }
        }

        Log.CatchingUp(_logger, live);
    }

    /// <summary>Starts remote interest in the broadcast topic (every connection receives it).</summary>
    private void StartRemote()
    {
        if (_remote is not null)
        {
            _broadcast.Initializing = true;
            _ = InitializeAsync(_broadcast, TimeSpan.Zero);
        }
    }

    private ErrorCode EnqueueRemote(IRemoteStreams remote, TopicState topic, Priority priority, ReadOnlySpan<byte> payload, Session? ackTo, uint correlationId, PublishCompletion? completion)
    {
        if (Interlocked.Increment(ref _remoteAppendsInFlight) > _options.MaxPendingDeliveries)
        {
            // Pushback: too many appends waiting for the store.
            Interlocked.Decrement(ref _remoteAppendsInFlight);
            Counters.CountReject(ErrorCode.Overloaded);
            return ErrorCode.Overloaded;
        }

        var timestamp = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var buffer = Pool.Rent(FrameWriter.GetMessageSize(topic.Utf8.Length, payload.Length));
        FrameWriter.WriteMessage(buffer, topic.Utf8, priority, 0, 0, timestamp, payload);
        var append = new RemoteAppend(this, new DispatchItem
        {
            Kind = DispatchItemKind.Positioned,
            Priority = priority,
            Topic = topic,
            Buffer = buffer,
            Session = ackTo,
            CorrelationId = correlationId,
            Completion = completion,
            EnqueuedTimestamp = Stopwatch.GetTimestamp(),
            Cost = 1,
        });

        Task<StreamPosition> task;
        try
        {
            // The frame's payload is the append's argument: no second copy; the buffer lives until completion.
            task = remote.AppendAsync(topic.Name, topic.Kind, priority, timestamp, buffer.Memory[^payload.Length..]);
        }
        catch (Exception ex)
        {
            task = Task.FromException<StreamPosition>(ex);
        }

        task.ContinueWith(static (t, s) => ((RemoteAppend)s!).Completed(t), append, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return ErrorCode.None;
    }

    private void OnAppended(DispatchItem item, Task<StreamPosition> task)
    {
        Interlocked.Decrement(ref _remoteAppendsInFlight);
        if (task.IsCompletedSuccessfully)
        {
            var position = task.Result;
            PatchPosition(item.Buffer!, position);
            item.Epoch = position.Epoch;
            item.Offset = position.Offset;
            EnqueuePositioned(item);
            return;
        }

        // Not appended as far as this node can tell: the publisher gets the retryable engine_unavailable.
        Log.AppendFailed(_logger, task.Exception?.GetBaseException() ?? new TaskCanceledException(), item.Topic!.Name);
        Counters.CountReject(ErrorCode.EngineUnavailable);
        item.Buffer!.Release();
        item.Completion?.Complete(new PublishResult(ErrorCode.EngineUnavailable, 0, 0));
        if (item.Session is { } ackTo && item.CorrelationId != 0)
        {
            SendError(ackTo, ErrorCode.EngineUnavailable, item.CorrelationId, "The scale-out engine could not store the message; retry.");
        }
    }

    private void EnqueuePositioned(in DispatchItem item)
    {
        // Already stored: never refused. A full ring pushes back on the store's completion thread (rare).
        var owner = item.Topic!.Owner;
        var spin = default(SpinWait);
        while (!owner.TryEnqueue(item.Priority, item, int.MaxValue))
        {
            if (owner.HasExited)
            {
                item.Buffer?.Release();
                item.Completion?.Complete(new PublishResult(ErrorCode.ServerShuttingDown, 0, 0));
                return;
            }

            spin.SpinOnce();
        }
    }

    private void ProcessPositioned(DispatchWorker worker, ref DispatchItem item)
    {
        var topic = item.Topic!;
        try
        {
            // The publisher learns its position as soon as the store assigned it.
            var completion = item.Completion;
            item.Completion = null;
            AnswerPublisher(completion, item.Session, item.CorrelationId, new StreamPosition(item.Epoch, item.Offset));

            if (item.EnqueuedTimestamp != 0)
            {
                _metrics.RecordLatency(item.EnqueuedTimestamp);
            }

            if (topic.Initializing)
            {
                Hold(topic, ref item); // the position is being read: sorted out when it arrives
                return;
            }

            if (!topic.Live)
            {
                return; // no local interest: stored, acknowledged, nothing to deliver here
            }

            var cache = topic.Cache!;
            var last = cache.Position;
            if (item.Epoch != last.Epoch)
            {
                // The store lost the stream (e.g. Redis restarted empty): continue in the new epoch.
                Log.EpochChanged(_logger, topic.Name, last.Epoch, item.Epoch);
                ClearReorder(topic);
                cache.Reset(new StreamPosition(item.Epoch, item.Offset - 1));
                last = cache.Position;
            }

            if (item.Offset <= last.Offset)
            {
                return; // duplicate (already delivered, e.g. by a fill)
            }

            if (item.Offset == last.Offset + 1)
            {
                DeliverPositioned(worker, topic, item.Buffer!, item.Priority, item.EnqueuedTimestamp);
                DrainReorder(worker, topic);
                return;
            }

            Hold(topic, ref item);
            StartFill(topic, GapGrace);
        }
        finally
        {
            item.Buffer?.Release();
        }
    }

    private void DeliverPositioned(DispatchWorker worker, TopicState topic, FrameBuffer buffer, Priority priority, long enqueuedTimestamp)
    {
        topic.Cache!.Record(buffer, new StreamPosition(MessageFrameLayout.ReadEpoch(buffer.Span), MessageFrameLayout.ReadOffset(buffer.Span)));
        Touch(worker, topic);
        buffer.OrderingKey = topic; // outbound queues keep this topic's order when priorities overtake (OutboundQueue)
        if (topic.Kind == TopicKind.Broadcast)
        {
            BroadcastFromOwner(worker, buffer, priority, enqueuedTimestamp);
        }
        else
        {
            FanOut(worker, topic.Subscribers, buffer, priority);
        }
    }

    private static void Hold(TopicState topic, ref DispatchItem item)
    {
        var reorder = topic.Reorder ??= [];
        if (reorder.Count < MaxReorder && !reorder.ContainsKey(item.Offset))
        {
            item.Completion = null;
            item.Session = null;
            reorder.Add(item.Offset, item);
            item.Buffer = null; // ownership moved to the reorder buffer
        }
    }

    private void DrainReorder(DispatchWorker worker, TopicState topic)
    {
        var reorder = topic.Reorder;
        if (reorder is null)
        {
            return;
        }

        var cache = topic.Cache!;
        while (reorder.Count > 0)
        {
            var next = reorder.Values[0];
            var last = cache.Position;
            if (next.Epoch != last.Epoch || next.Offset <= last.Offset)
            {
                reorder.RemoveAt(0);
                next.Buffer!.Release();
                continue;
            }

            if (next.Offset != last.Offset + 1)
            {
                break;
            }

            reorder.RemoveAt(0);
            try
            {
                DeliverPositioned(worker, topic, next.Buffer!, next.Priority, next.EnqueuedTimestamp);
            }
            finally
            {
                next.Buffer!.Release();
            }
        }

        if (reorder.Count > 0)
        {
            StartFill(topic, GapGrace);
        }
    }

    private static void ClearReorder(TopicState topic)
    {
        if (topic.Reorder is { } reorder)
        {
            foreach (var held in reorder.Values)
            {
                held.Buffer!.Release();
            }

            reorder.Clear();
        }
    }

    /// <summary>Queues a catch-up read of <paramref name="topic"/> on its owner after <paramref name="delay"/>.</summary>
    private void ScheduleCatchUp(TopicState topic, TimeSpan delay) =>
        _ = Task.Delay(delay).ContinueWith(
            static (_, s) => { var (d, t) = ((Dispatcher, TopicState))s!; d.EnqueueControlOrWait(t.Owner, new DispatchItem { Kind = DispatchItemKind.Retry, Topic = t, State = CatchUp }); },
            (this, topic), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);

    /// <summary>Reads the stream after the cache position (owner thread starts it; one fill at a time per topic).</summary>
    private void StartFill(TopicState topic, TimeSpan delay)
    {
        if (topic.Filling || _remote is not { } remote)
        {
            return;
        }

        topic.Filling = true;
        if (delay > TimeSpan.Zero)
        {
            // Give the live feed a moment: most out-of-order arrivals are filled by it, and then no read is needed.
            _ = Task.Delay(delay).ContinueWith(
                static (_, s) => { var (d, t) = ((Dispatcher, TopicState))s!; d.EnqueueControlOrWait(t.Owner, new DispatchItem { Kind = DispatchItemKind.Retry, Topic = t, State = GapCheck }); },
                (this, topic), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            return;
        }

        _ = FillAsync(remote, topic, topic.Cache!.Position);
    }

    private async Task FillAsync(IRemoteStreams remote, TopicState topic, StreamPosition from)
    {
        object result;
        try
        {
            result = await remote.ReadHistoryAsync(topic.Name, from, 256, _options.Outbound.MaxBytes).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            result = ex;
        }

        EnqueueControlOrWait(topic.Owner, new DispatchItem { Kind = DispatchItemKind.Filled, Topic = topic, Epoch = from.Epoch, Offset = from.Offset, State = result });
    }

    private void ProcessFilled(DispatchWorker worker, ref DispatchItem item)
    {
        var topic = item.Topic!;
        topic.Filling = false;
        if (!topic.Live)
        {
            return;
        }

        var cache = topic.Cache!;
        if (item.State is Exception ex)
        {
            // Retried as a catch-up, not as a gap check: after an engine outage the missing messages may be the
            // topic's last ones, with nothing held in the reorder buffer to reveal the gap (issue 12, chaos "redis").
            Log.EngineStepFailed(_logger, ex, "fill", topic.Name);
            ScheduleCatchUp(topic, EngineRetryDelay);
            return;
        }

        var page = (RemotePage)item.State!;
        if (page.Status == HistoryReadStatus.Gone)
        {
            if (page.Epoch != 0 && page.Epoch != cache.Position.Epoch)
            {
                // Another epoch: continue from the store's start of it (subscribers see the new epoch).
                Log.EpochChanged(_logger, topic.Name, cache.Position.Epoch, page.Epoch);
                ClearReorder(topic);
                cache.Reset(new StreamPosition(page.Epoch, 0));
                StartFill(topic, TimeSpan.Zero);
                return;
            }

            // Trimmed past this node's position: skip to what is held (a gap the clients can see).
            if (topic.Reorder is { Count: > 0 } reorder)
            {
                var next = reorder.Values[0];
                Log.FillGone(_logger, topic.Name, cache.Position.Offset + 1, next.Offset - 1);
                cache.Reset(new StreamPosition(next.Epoch, next.Offset - 1));
                DrainReorder(worker, topic);
            }

            return;
        }

        foreach (var message in page.Messages)
        {
            var last = cache.Position;
            if (message.Position.Epoch != last.Epoch || message.Position.Offset != last.Offset + 1)
            {
                continue;
            }

            var frame = BuildFrame(topic, message, FrameFlags.None);
            try
            {
                DeliverPositioned(worker, topic, frame, message.Priority, 0);
            }
            finally
            {
                frame.Release();
            }
        }

        DrainReorder(worker, topic);
        if (page.Status == HistoryReadStatus.More)
        {
            StartFill(topic, TimeSpan.Zero);
        }
    }

    /// <summary>Defers a request until the topic's remote interest is initialized (owner thread).</summary>
    private void Defer(TopicState topic, in DispatchItem item)
    {
        (topic.Deferred ??= []).Add(item);
        if (!topic.Initializing)
        {
            topic.Initializing = true;
            _ = InitializeAsync(topic, TimeSpan.Zero);
        }
    }

    private async Task InitializeAsync(TopicState topic, TimeSpan delay)
    {
        object result;
        try
        {
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay).ConfigureAwait(false);
            }

            var remote = _remote!;
            // Feed first, then the position: every offset after the position arrives through the feed.
            await remote.SetInterestAsync(topic.Name, true).ConfigureAwait(false);
            var position = await remote.GetPositionAsync(topic.Name).ConfigureAwait(false);
            var retained = topic.Kind == TopicKind.Workflow ? await remote.GetRetainedAsync(topic.Name).ConfigureAwait(false) : null;
            result = new RemoteInit(position, retained);
        }
        catch (Exception ex)
        {
            result = ex;
        }

        if (Volatile.Read(ref _state) != 2)
        {
            EnqueueControlOrWait(topic.Owner, new DispatchItem { Kind = DispatchItemKind.Initialized, Topic = topic, State = result });
        }
    }

    private void ProcessInitialized(DispatchWorker worker, ref DispatchItem item)
    {
        var topic = item.Topic!;
        if (item.State is Exception ex)
        {
            Log.EngineStepFailed(_logger, ex, "subscribe", topic.Name);
            // Subscribes are answered (retryable); connections' own user topics and broadcast keep trying.
            var keep = new List<DispatchItem>();
            foreach (var deferred in topic.Deferred ?? [])
            {
                if (deferred.Kind == DispatchItemKind.Subscribe)
                {
                    deferred.Session!.RemoveSubscription(topic.Name);
                    SendError(deferred.Session, ErrorCode.EngineUnavailable, deferred.CorrelationId, "The scale-out engine is unreachable; subscribe again later.");
                }
                else if (!deferred.Session!.IsClosed)
                {
                    keep.Add(deferred);
                }
            }

            topic.Deferred = keep;
            if (keep.Count > 0 || topic.Kind == TopicKind.Broadcast)
            {
                _ = InitializeAsync(topic, EngineRetryDelay);
            }
            else
            {
                topic.Initializing = false;
                ClearReorder(topic);
            }

            return;
        }

        var init = (RemoteInit)item.State!;
        var cache = topic.Cache!;
        cache.Reset(init.Position);
        if (init.Retained is { } retained && retained.Position.Epoch == init.Position.Epoch && retained.Position.Offset <= init.Position.Offset)
        {
            var frame = BuildFrame(topic, retained, FrameFlags.None);
            cache.SetRetained(frame);
            frame.Release();
        }

        topic.Live = true;
        topic.Initializing = false;
        DrainReorder(worker, topic);
        var waiting = topic.Deferred;
        topic.Deferred = null;
        foreach (var deferred in waiting ?? [])
        {
            var request = deferred;
            Process(worker, ref request);
        }
    }

    /// <summary>Remote interest ends when the idle sweep finds a live topic without subscribers or replays.</summary>
    private void EndInterestIfIdle(TopicState topic)
    {
        if (_remote is not { } remote || !topic.Live || topic.Kind == TopicKind.Broadcast || topic.Subscribers.Count > 0 || topic.ActiveReplays > 0)
        {
            return;
        }

        topic.Live = false;
        ClearReorder(topic);
        _ = remote.SetInterestAsync(topic.Name, false).ContinueWith(
            static (t, s) => _ = t.Exception, null, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    private void AckRemote(IRemoteStreams remote, TopicState topic, ulong offset) =>
        _ = remote.AcknowledgeAsync(topic.Name, offset).ContinueWith(
            static (t, s) => Interlocked.Increment(ref ((Dispatcher)s!).Counters.AcksDropped), this, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);

    /// <summary>Starts reading the next replay page from the store (owner thread); the completion reschedules the cursor.</summary>
    private void StartRemotePage(IRemoteStreams remote, ReplayCursor cursor, int pageFrames, long pageBytes)
    {
        cursor.Fetching = true;
        cursor.IssuedAt = cursor.Topic.Cache!.Position.Offset;
        _ = FetchPageAsync(remote, cursor, cursor.After, pageFrames, pageBytes);
    }

    private async Task FetchPageAsync(IRemoteStreams remote, ReplayCursor cursor, StreamPosition after, int pageFrames, long pageBytes)
    {
        ReplayPage page;
        try
        {
            var read = cursor.Source == ReplaySource.History
                ? await remote.ReadHistoryAsync(cursor.Topic.Name, after, pageFrames, pageBytes).ConfigureAwait(false)
                : await remote.ReadPendingAsync(cursor.Topic.Name, after.Offset, pageFrames).ConfigureAwait(false);
            var frames = new List<FrameBuffer>(read.Messages.Count);
            foreach (var message in read.Messages)
            {
                frames.Add(BuildFrame(cursor.Topic, message, FrameFlags.None));
            }

            page = new ReplayPage(read.Status, frames, null);
        }
        catch (Exception ex)
        {
            page = new ReplayPage(HistoryReadStatus.Gone, [], ex);
        }

        cursor.Prefetched = page;
        Volatile.Write(ref cursor.Fetching, false);
        if (Interlocked.Exchange(ref cursor.Scheduled, 1) == 0)
        {
            cursor.Topic.Owner.ScheduleReplay(cursor);
        }
    }

    private FrameBuffer BuildFrame(TopicState topic, in RemoteMessageData message, FrameFlags flags)
    {
        var frame = Pool.Rent(FrameWriter.GetMessageSize(topic.Utf8.Length, message.Payload.Length));
        FrameWriter.WriteMessage(frame, topic.Utf8, message.Priority, message.Position.Epoch, message.Position.Offset, message.TimestampMs, message.Payload.Span, flags);
        return frame;
    }

    private void SendError(Session session, ErrorCode code, uint correlationId, string text)
    {
        var error = Pool.Rent(ProtocolLimits.HeaderSize + 8 + ProtocolLimits.MaxTextBytes);
        FrameWriter.WriteError(error, code, correlationId, text);
        session.TryEnqueueControl(error);
    }

    private sealed record RemoteInit(StreamPosition Position, RemoteMessageData? Retained);

    /// <summary>One append in flight: the item to dispatch once the store answered.</summary>
    private sealed class RemoteAppend(Dispatcher dispatcher, DispatchItem item)
    {
        public void Completed(Task<StreamPosition> task) => dispatcher.OnAppended(item, task);
    }
}

/// <summary>A replay page read from a remote store, converted to frames (owned by the page until queued).</summary>
internal sealed record ReplayPage(HistoryReadStatus Status, List<FrameBuffer> Frames, Exception? Error);
