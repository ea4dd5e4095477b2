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
    /// Finds or creates a topic. A new topic beyond <see cref="TopicBudgetOptions.MaxTopics"/> is refused with
    /// Overloaded (and the workers are asked to evict), unless <paramref name="force"/>.
    /// </summary>
    private ErrorCode TryGetOrCreateTopic(string name, out TopicState state, bool force = false)
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

        return Created(GetOrCreateTopicCore(name, force), out state);
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

        return Created(GetOrCreateTopicCore(Encoding.UTF8.GetString(utf8), force: false), out state);
    }

    private ErrorCode Created(TopicState? created, out TopicState state)
    {
        state = created!;
        if (created is not null)
        {
            return ErrorCode.None;
        }

        Counters.CountReject(ErrorCode.Overloaded);
        RequestEviction();
        return ErrorCode.Overloaded;
    }

    /// <summary>Finds or creates a topic; null when the topic budget is exhausted (never when <paramref name="force"/>).</summary>
    private TopicState? GetOrCreateTopicCore(string name, bool force)
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
            var counted = kind != TopicKind.Broadcast;
            if (counted && !_budget.TryAddTopic(force))
            {
                return null;
            }

            // Remote engines keep the stream in the store; the node keeps a cache of what it delivered
            // (history for recoveries it can serve itself, the retained state; pending lives in the store).
            ITopicStream stream = _remote is null
                ? _engine.CreateStream(name, kind)
                : new InMemoryTopicStream(name, kind, 0, _options.History, 0, _options.PendingTtl, _time);
            if (stream is InMemoryTopicStream local)
            {
                local.Ledger = _budget.LedgerOf(owner.Index);
            }

            var state = new TopicState(name, owner, stream) { Counted = counted };
            _topics[name] = state;
            if (counted)
            {
                owner.AddCreated(state);
                if (_budget.Topics > _budget.TopicsThreshold)
                {
                    RequestEviction(); // above the threshold: idle topics make room before the limit is reached
                }
            }

            return state;
        }
    }
}
