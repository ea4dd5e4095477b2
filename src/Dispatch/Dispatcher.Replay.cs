using System.Runtime.InteropServices;
using Gateway.Protocol;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch;

/// <summary>
/// Subscribe, recovery and pending redelivery: everything a connection receives from a stream before it
/// joins the topic's live subscribers. Replays are paged (<see cref="ReplayCursor"/>) as the connection
/// drains, never pushed whole into its outbound queue and never shed, so a recovery is complete or ends in
/// an explicit failure whatever its size (docs/dispatch.md, "Recovery and pending redelivery").
/// </summary>
public sealed partial class Dispatcher
{
    private void ProcessSubscribe(DispatchWorker worker, ref DispatchItem item)
    {
        var topic = item.Topic!;
        var session = item.Session!;
        if (session.IsClosed)
        {
            return;
        }

        if (_remote is not null && !topic.Live)
        {
            Defer(topic, item); // the live feed is subscribed and the position read first
            return;
        }

        Touch(worker, topic);
        var position = topic.Stream.Position;
        var flags = FrameFlags.None;
        var recovering = false;
        var from = new StreamPosition(item.Epoch, item.Offset);
        if (item.Recover)
        {
            // Probe the first message: the answer (Recovered or RecoveryFailed) must be known before Subscribed.
            var probe = worker.Scratch;
            probe.Clear();
            var status = topic.Stream.ReadHistory(from, 1, 0, probe);
            ReleaseAll(probe);
            if (status == HistoryReadStatus.Gone && _remote is { } remote)
            {
                // Not in this node's cache (e.g. the client was on another node): ask the store, then come back.
                if (item.State is not HistoryReadStatus probed)
                {
                    _ = ProbeAsync(remote, item, from);
                    return;
                }

                status = probed;
            }

            recovering = status != HistoryReadStatus.Gone;
            flags = recovering ? FrameFlags.Recovered : FrameFlags.RecoveryFailed;
            recovering &= from.Offset < position.Offset;
        }

        var subscribed = Pool.Rent(ProtocolLimits.HeaderSize + 4 + 8 + 8 + 1 + topic.Utf8.Length);
        FrameWriter.WriteSubscribed(subscribed, item.CorrelationId, topic.Name, position.Epoch, position.Offset, flags);
        session.TryEnqueueControl(subscribed);

        if (recovering)
        {
            StartReplay(worker, new ReplayCursor(session, topic, ReplaySource.History, item.CorrelationId, from, position.Offset));
            return;
        }

        if (flags != FrameFlags.Recovered && topic.Kind == TopicKind.Workflow && topic.Stream.Retained is { } retained)
        {
            // One frame: queued whatever the queue's fill, like a control frame.
            session.Outbound.TryEnqueueReplay(FlaggedCopy(retained, FrameFlags.Retained), force: true, worker.DeferredWakes);
        }

        Join(session, topic);
    }

    private void ProcessAttachUser(DispatchWorker worker, ref DispatchItem item)
    {
        var topic = item.Topic!;
        var session = item.Session!;
        if (session.IsClosed)
        {
            return;
        }

        if (_remote is not null && !topic.Live)
        {
            Defer(topic, item);
            return;
        }

        Touch(worker, topic);
        var position = topic.Stream.Position;
        if (_remote is null && topic.Stream.PendingCount == 0)
        {
            Join(session, topic);
            return;
        }

        StartReplay(worker, new ReplayCursor(session, topic, ReplaySource.Pending, 0, new StreamPosition(position.Epoch, 0), position.Offset));
    }

    /// <summary>Continues a replay after its connection drained (owner thread).</summary>
    internal void ContinueReplay(DispatchWorker worker, ReplayCursor cursor)
    {
        try
        {
            Touch(worker, cursor.Topic);
            RunReplay(worker, cursor);
        }
        catch (Exception ex)
        {
            // Never leave a cursor half-done: end it as incomplete so the client knows (and count the fault).
            Interlocked.Increment(ref Counters.WorkerFaults);
            Log.WorkerFault(_logger, ex, worker.Index, DispatchItemKind.Subscribe, cursor.Topic.Name);
            FailReplay(cursor);
        }
    }

    private void StartReplay(DispatchWorker worker, ReplayCursor cursor)
    {
        cursor.Topic.ActiveReplays++;
        cursor.Session.AddReplay(cursor);
        ContinueReplay(worker, cursor);
    }

    /// <summary>
    /// Queues pages of the replay until the connection's queue refuses one (its drain signal then schedules the
    /// next continuation) or the cursor reaches the stream's position (the session then joins, on this thread,
    /// so the next publish of the topic is its first live message: no gap, no duplicate).
    /// </summary>
    private void RunReplay(DispatchWorker worker, ReplayCursor cursor)
    {
        var session = cursor.Session;
        var topic = cursor.Topic;
        var page = worker.Scratch;
        var pageFrames = Math.Max(1, _options.Outbound.MaxFrames / 2);
        var pageBytes = Math.Max(1, _options.Outbound.MaxBytes / 2);
        while (true)
        {
            if (cursor.Finished)
            {
                ReleasePrefetched(cursor);
                return;
            }

            if (session.IsClosed)
            {
                Finish(cursor);
                return;
            }

            if (cursor.Fetching)
            {
                return; // the store's answer reschedules this cursor
            }

            page.Clear();
            HistoryReadStatus status;
            var fromStore = false;
            if (cursor.Prefetched is { } prefetched)
            {
                cursor.Prefetched = null;
                fromStore = true;
                page.AddRange(prefetched.Frames);
                status = prefetched.Status;
                if (prefetched.Error is not null)
                {
                    ReleaseAll(page);
                    if (cursor.Source == ReplaySource.History)
                    {
                        FailReplay(cursor);
                    }
                    else
                    {
                        // Pending notifications stay pending in the store: redelivered on the next connect.
                        Finish(cursor);
                        Join(session, topic);
                    }

                    return;
                }
            }
            else if (cursor.Source == ReplaySource.History)
            {
                status = topic.Stream.ReadHistory(cursor.After, pageFrames, pageBytes, page);
                if (status == HistoryReadStatus.Gone && _remote is { } remote)
                {
                    StartRemotePage(remote, cursor, pageFrames, pageBytes); // older than this node's cache
                    return;
                }
            }
            else if (_remote is { } remote)
            {
                StartRemotePage(remote, cursor, pageFrames, pageBytes); // pending notifications live in the store
                return;
            }
            else
            {
                status = topic.Stream.ReadPending(cursor.After.Offset, pageFrames, pageBytes, page) ? HistoryReadStatus.End : HistoryReadStatus.More;
            }

            if (status == HistoryReadStatus.Gone)
            {
                ReleaseAll(page);
                FailReplay(cursor);
                return;
            }

            // Remote engines: the seam is this node's delivered position; later offsets arrive live after the join.
            var limit = _remote is null ? ulong.MaxValue : topic.Stream.Position.Offset;
            var blocked = false;
            foreach (var source in page)
            {
                var offset = MessageFrameLayout.ReadOffset(source.Span);
                if (offset > limit || (cursor.Source == ReplaySource.History && offset <= cursor.After.Offset))
                {
                    source.Release();
                    continue;
                }

                if (!blocked)
                {
                    var copy = FlaggedCopy(source, offset <= cursor.LiveAfter ? FrameFlags.Replayed : FrameFlags.None);
                    if (session.Outbound.TryEnqueueReplay(copy, force: false, worker.DeferredWakes))
                    {
                        cursor.After = new StreamPosition(cursor.After.Epoch, offset);
                    }
                    else
                    {
                        copy.Release();
                        blocked = true;
                    }
                }

                source.Release();
            }

            page.Clear();
            if (blocked)
            {
                if (session.IsClosed)
                {
                    Finish(cursor);
                }

                return; // the drain signal is armed: ContinueReplay runs when the writer has drained
            }

            bool done;
            if (!fromStore)
            {
                done = status == HistoryReadStatus.End;
            }
            else if (cursor.Source == ReplaySource.History)
            {
                done = cursor.After.Offset >= limit;
            }
            else
            {
                // Pending: complete once a read that reached the end was issued at the current position.
                done = status == HistoryReadStatus.End && cursor.IssuedAt == limit;
            }

            if (done)
            {
                Finish(cursor);
                Join(session, topic);
                return;
            }
        }
    }

    private async Task ProbeAsync(IRemoteStreams remote, DispatchItem item, StreamPosition from)
    {
        HistoryReadStatus status;
        try
        {
            var page = await remote.ReadHistoryAsync(item.Topic!.Name, from, 1, 0).ConfigureAwait(false);
            status = page.Status;
        }
        catch (Exception ex)
        {
            Log.EngineStepFailed(_logger, ex, "recovery probe", item.Topic!.Name);
            status = HistoryReadStatus.Gone;
        }

        item.State = status;
        EnqueueControlOrWait(item.Topic.Owner, item);
    }

    private static void ReleasePrefetched(ReplayCursor cursor)
    {
        if (cursor.Prefetched is { } page)
        {
            cursor.Prefetched = null;
            foreach (var frame in page.Frames)
            {
                frame.Release();
            }
        }
    }

    /// <summary>The replay cannot be completed: tell the client (recovery_incomplete), then deliver live.</summary>
    private void FailReplay(ReplayCursor cursor)
    {
        if (cursor.Finished)
        {
            return;
        }

        Finish(cursor);
        Interlocked.Increment(ref Counters.ReplaysIncomplete);
        var session = cursor.Session;
        if (cursor.Source == ReplaySource.History && !session.IsClosed)
        {
            SendError(session, ErrorCode.RecoveryIncomplete, cursor.CorrelationId,
                $"Recovery of '{cursor.Topic.Name}' stopped after offset {cursor.After.Offset}: history no longer holds the next message; refetch state.");
        }

        Join(session, cursor.Topic);
    }

    private static void Finish(ReplayCursor cursor)
    {
        if (cursor.Finished)
        {
            return;
        }

        cursor.Finished = true;
        ReleasePrefetched(cursor);
        cursor.Topic.ActiveReplays--;
        cursor.Session.RemoveReplay(cursor);
    }

    /// <summary>Unsubscribe or disconnect (owner thread): a replay in progress for that topic stops.</summary>
    private static void CancelReplay(Session session, TopicState topic)
    {
        if (session.FindReplay(topic) is { } cursor)
        {
            Finish(cursor);
        }
    }

    private static void Join(Session session, TopicState topic)
    {
        if (!session.IsClosed)
        {
            topic.Subscribers.Add(session);
        }
    }

    /// <summary>A pooled copy of a stored frame with its flags set (flags live in the header; rare path).</summary>
    private FrameBuffer FlaggedCopy(FrameBuffer source, FrameFlags flags)
    {
        var copy = Pool.Rent(source.Length);
        copy.Write(source.Span);
        MessageFrameLayout.WriteFlags(MemoryMarshal.AsMemory(copy.Memory).Span, flags);
        return copy;
    }

    private static void ReleaseAll(List<FrameBuffer> frames)
    {
        foreach (var frame in frames)
        {
            frame.Release();
        }

        frames.Clear();
    }
}
