using System.Text;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Topics;

namespace Gateway.Dispatch;

/// <summary>
/// Topic registry: creation (one stream and epoch per topic), owner affinity and the idle-topic sweep.
/// </summary>
public sealed partial class Dispatcher
{
    /// <summary>The worker owning <paramref name="topic"/> (tests).</summary>
    internal int OwnerOf(string topic) => TryGetOrCreateTopic(topic, out var state) == ErrorCode.None ? state.Owner.Index : -1;

    /// <summary>
    /// Drops idle topics owned by <paramref name="worker"/> (on its thread): no subscribers and an empty
    /// stream. Keeps the registry bounded by live topics rather than by every topic ever used.
    /// </summary>
    /// <returns>The number of topics dropped.</returns>
    internal int SweepIdleTopics(DispatchWorker worker)
    {
        var dropped = 0;
        foreach (var (name, topic) in _topics)
        {
            if (topic.Owner != worker)
            {
                continue;
            }

            EndInterestIfIdle(topic);
            if (topic.Kind == TopicKind.Broadcast || topic.Subscribers.Count > 0 || topic.ActiveReplays > 0 || topic.Live || topic.Initializing || topic.Filling || !topic.Stream.IsEmpty)
            {
                continue;
            }

            lock (_topicCreation)
            {
                if (_topics.TryRemove(KeyValuePair.Create(name, topic)))
                {
                    topic.Retired = true;
                    topic.Stream.Dispose();
                    dropped++;
                }
            }
        }

        return dropped;
    }

    private ErrorCode TryGetOrCreateTopic(string name, out TopicState state)
    {
        if (_topics.TryGetValue(name, out state!))
        {
            return ErrorCode.None;
        }

        var error = TopicRules.Validate(name);
        if (error != ErrorCode.None)
        {
            return ErrorCode.InvalidTopic;
        }

        state = GetOrCreateTopicCore(name);
        return ErrorCode.None;
    }

    private ErrorCode TryGetOrCreateTopic(ReadOnlySpan<byte> utf8, out TopicState state)
    {
        state = null!;
        if (utf8.Length is 0 or > ProtocolLimits.MaxTopicBytes)
        {
            return ErrorCode.InvalidTopic;
        }

        Span<char> chars = stackalloc char[ProtocolLimits.MaxTopicBytes];
        if (Encoding.UTF8.TryGetChars(utf8, chars, out var written) && _topicsBySpan.TryGetValue(chars[..written], out state!))
        {
            return ErrorCode.None;
        }

        if (TopicRules.Validate(utf8) != ErrorCode.None)
        {
            return ErrorCode.InvalidTopic;
        }

        state = GetOrCreateTopicCore(Encoding.UTF8.GetString(utf8));
        return ErrorCode.None;
    }

    private TopicState GetOrCreateTopicCore(string name)
    {
        // Creation is rare; one lock keeps a single stream (and epoch) per topic.
        lock (_topicCreation)
        {
            if (_topics.TryGetValue(name, out var existing))
            {
                return existing;
            }

            var owner = _workers[(int)((uint)StringComparer.Ordinal.GetHashCode(name) % (uint)_workers.Length)];
            var kind = TopicState.KindOf(name);
            // Remote engines keep the stream in the store; the node keeps a cache of what it delivered
            // (history for recoveries it can serve itself, the retained state; pending lives in the store).
            ITopicStream stream = _remote is null
                ? _engine.CreateStream(name, kind)
                : new InMemoryTopicStream(name, kind, 0, _options.History, 0, _options.PendingTtl, _time);
            var state = new TopicState(name, owner, stream);
            _topics[name] = state;
            return state;
        }
    }
}
