using Gateway.Protocol;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Topics;

namespace Gateway.Dispatch;

/// <summary>
/// Connections: registration, subscribe/unsubscribe/ack requests and removal from every registry.
/// </summary>
public sealed partial class Dispatcher
{
    /// <summary>
    /// Registers a connection with no per-user cap. When <paramref name="userId"/> is given, subscribes it to
    /// <c>user:{userId}</c> and queues that user's pending notifications (flag Replayed) before any live notification.
    /// </summary>
    /// <param name="connectionId">Unique connection id.</param>
    /// <param name="userId">Authenticated user, or null.</param>
    /// <param name="connected">
    /// Optional first frame (the host's Connected frame; ownership is taken): queued before anything the
    /// dispatcher sends, which a later <see cref="Session.TryEnqueueControl"/> could not guarantee.
    /// </param>
    /// <exception cref="InvalidOperationException">The id is already registered, or the dispatcher is stopping.</exception>
    public Session Connect(string connectionId, string? userId, FrameBuffer? connected = null)
    {
        TryConnect(connectionId, userId, int.MaxValue, connected, out var session);
        return session!;
    }

    /// <summary>
    /// Registers a connection unless its user already has <paramref name="maxConnectionsPerUser"/> connections
    /// on this node (checked and applied atomically per user, O(1) amortised). Otherwise as <see cref="Connect"/>.
    /// </summary>
    /// <param name="connectionId">Unique connection id.</param>
    /// <param name="userId">Authenticated user, or null (service connections are not capped per user).</param>
    /// <param name="maxConnectionsPerUser">The per-user cap (at least 1; <see cref="int.MaxValue"/> = none).</param>
    /// <param name="connected">Optional first frame (ownership is taken, released when refused).</param>
    /// <param name="session">The registered session, or null when refused.</param>
    /// <returns>None, or <see cref="ErrorCode.UserConnectionLimit"/> (nothing registered).</returns>
    /// <exception cref="InvalidOperationException">The id is already registered, or the dispatcher is stopping.</exception>
    public ErrorCode TryConnect(string connectionId, string? userId, int maxConnectionsPerUser, FrameBuffer? connected, out Session? session)
    {
        ArgumentException.ThrowIfNullOrEmpty(connectionId);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConnectionsPerUser, 1);
        session = null;
        if (Volatile.Read(ref _state) == 2)
        {
            connected?.Release();
            throw new InvalidOperationException("The dispatcher is shutting down.");
        }

        var slice = (int)((uint)Interlocked.Increment(ref _nextSlice) % (uint)_workers.Length);
        var created = new Session(connectionId, userId, new OutboundQueue(_options.Outbound, Counters), slice);
        if (connected is not null)
        {
            created.TryEnqueueControl(connected);
        }

        // The user's entry first: the cap is decided before the session becomes visible anywhere.
        if (userId is not null && !TryAddToUser(userId, created, maxConnectionsPerUser))
        {
            created.MarkClosed();
            created.Outbound.Complete(discard: true);
            return ErrorCode.UserConnectionLimit;
        }

        if (!_sessions.TryAdd(connectionId, created))
        {
            created.MarkClosed();
            created.Outbound.Complete(discard: true);
            if (userId is not null)
            {
                RemoveFromUser(userId, created);
            }

            throw new InvalidOperationException($"Connection id '{connectionId}' is already registered.");
        }

        Interlocked.Increment(ref _connectionCount);
        _slices[slice].Add(created);

        if (userId is not null && TryGetOrCreateTopic(TopicRules.UserPrefix + userId, out var userTopic, force: true) == ErrorCode.None)
        {
            created.AddSubscriptionUnchecked(userTopic.Name);
            var item = new DispatchItem { Kind = DispatchItemKind.AttachUser, Topic = userTopic, Session = created };
            EnqueueControlOrWait(userTopic.Owner, item);
        }

        session = created;
        return ErrorCode.None;
    }

    /// <summary>Unregisters a connection: idempotent; removes it from every registry and releases its queued frames.</summary>
    public void Disconnect(Session session)
    {
        ArgumentNullException.ThrowIfNull(session);
        // Always complete: after a slow-consumer close (already marked closed) the queue still holds the
        // control frames the host flushed or did not get to; they are released here.
        var first = session.MarkClosed();
        session.Outbound.Complete(discard: true);
        if (first)
        {
            RemoveFromRegistries(session);
        }
    }

    /// <summary>Every registered session at this moment (graceful drain: send GoAway to all).</summary>
    public IReadOnlyList<Session> SnapshotSessions() => [.. _sessions.Values];

    /// <summary>The session with this connection id, or null.</summary>
    public Session? FindSession(string connectionId) => _sessions.TryGetValue(connectionId, out var s) ? s : null;

    /// <summary>A copy of the connections of a user (empty when none). O(connections of the user): not for hot paths.</summary>
    public IReadOnlyList<Session> GetUserSessions(string userId) => _users.TryGetValue(userId, out var entry) ? entry.Snapshot() : [];

    /// <summary>Connections of a user on this node at this moment (O(1)).</summary>
    public int GetUserConnectionCount(string userId) => _users.TryGetValue(userId, out var entry) ? entry.Count : 0;

    /// <summary>
    /// Subscribes <paramref name="session"/> (permissions already checked by the host). On success the
    /// owning worker queues Subscribed (Recovered / RecoveryFailed when recovery was asked), then the
    /// replayed (Replayed) or retained (Retained) messages, then live ones, with no gap or duplicate.
    /// </summary>
    /// <returns>None, or AlreadySubscribed, TooManySubscriptions, InvalidTopic, Overloaded, ServerShuttingDown.</returns>
    public ErrorCode Subscribe(Session session, string topic, StreamPosition? recoverFrom, uint correlationId, int maxSubscriptions)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(topic);
        if (Volatile.Read(ref _state) == 2)
        {
            return ErrorCode.ServerShuttingDown;
        }

        if (topic == TopicRules.Broadcast)
        {
            return ErrorCode.AlreadySubscribed; // every connection receives broadcasts implicitly
        }

        var error = TryGetOrCreateTopic(topic, out var state);
        if (error != ErrorCode.None)
        {
            return error;
        }

        error = session.TryAddSubscription(state.Name, maxSubscriptions);
        if (error != ErrorCode.None)
        {
            return error;
        }

        var position = recoverFrom.GetValueOrDefault();
        var item = new DispatchItem
        {
            Kind = DispatchItemKind.Subscribe,
            Topic = state,
            Session = session,
            CorrelationId = correlationId,
            Recover = recoverFrom.HasValue,
            Epoch = position.Epoch,
            Offset = position.Offset,
        };
        if (!state.Owner.TryEnqueueControl(item))
        {
            session.RemoveSubscription(state.Name);
            return ErrorCode.Overloaded;
        }

        return ErrorCode.None;
    }

    /// <summary>Unsubscribes; the owning worker queues Unsubscribed after every message already fanned out.</summary>
    /// <returns>None, NotSubscribed or Overloaded.</returns>
    public ErrorCode Unsubscribe(Session session, string topic, uint correlationId)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(topic);
        if (!_topics.TryGetValue(topic, out var state) || !session.RemoveSubscription(topic))
        {
            return ErrorCode.NotSubscribed;
        }

        var item = new DispatchItem { Kind = DispatchItemKind.Unsubscribe, Topic = state, Session = session, CorrelationId = correlationId };
        if (!state.Owner.TryEnqueueControl(item))
        {
            session.AddSubscriptionUnchecked(topic);
            return ErrorCode.Overloaded;
        }

        return ErrorCode.None;
    }

    /// <summary>Acknowledges a notification of the session's own user topic: it is no longer pending.</summary>
    public void Ack(Session session, string topic, ulong offset)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(topic);
        if (session.UserId is null || !_topics.TryGetValue(topic, out var state) || state.Kind != TopicKind.User ||
            !topic.AsSpan(TopicRules.UserPrefix.Length).SequenceEqual(session.UserId))
        {
            return;
        }

        var item = new DispatchItem { Kind = DispatchItemKind.Ack, Topic = state, Session = session, Offset = offset };
        if (!state.Owner.TryEnqueueControl(item))
        {
            // At-least-once: the notification stays pending and is redelivered; counted.
            Interlocked.Increment(ref Counters.AcksDropped);
        }
    }

    private void RemoveFromRegistries(Session session)
    {
        if (_sessions.TryRemove(KeyValuePair.Create(session.ConnectionId, session)))
        {
            Interlocked.Decrement(ref _connectionCount);
        }

        if (session.UserId is { } userId)
        {
            RemoveFromUser(userId, session);
        }

        _slices[session.Slice].Remove(session);
        foreach (var name in session.TakeSubscriptions())
        {
            if (!_topics.TryGetValue(name, out var topic))
            {
                continue;
            }

            var item = new DispatchItem { Kind = DispatchItemKind.RemoveSubscriber, Topic = topic, Session = session };
            if (!topic.Owner.TryEnqueueControl(item))
            {
                // Fan-out skips and drops closed sessions, so nothing is lost by not queueing this.
                Log.ControlRingFull(_logger, topic.Owner.Index, "unsubscribe", session.ConnectionId);
            }
        }
    }

    private bool TryAddToUser(string userId, Session session, int max)
    {
        while (true)
        {
            var entry = _users.GetOrAdd(userId, static _ => new UserSessions());
            switch (entry.TryAdd(session, max))
            {
                case UserSessions.AddResult.Added:
                    return true;
                case UserSessions.AddResult.AtLimit:
                    return false;
                default:
                    // Emptied by a concurrent disconnect and being dropped: make sure it is gone, then retry.
                    _users.TryRemove(KeyValuePair.Create(userId, entry));
                    break;
            }
        }
    }

    private void RemoveFromUser(string userId, Session session)
    {
        if (_users.TryGetValue(userId, out var entry) && entry.Remove(session))
        {
            // Only this exact (retired) entry: a fresh one created meanwhile stays.
            _users.TryRemove(KeyValuePair.Create(userId, entry));
        }
    }

    private void EnqueueControlOrWait(DispatchWorker worker, in DispatchItem item)
    {
        // Connect must not fail because a control ring is momentarily full: wait briefly (rare).
        var spin = default(SpinWait);
        while (!worker.TryEnqueueControl(item))
        {
            if (worker.HasExited)
            {
                return;
            }

            spin.SpinOnce();
        }
    }
}
