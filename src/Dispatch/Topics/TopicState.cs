using System.Text;
using Gateway.Protocol.Topics;

namespace Gateway.Dispatch;

/// <summary>
/// A topic as the dispatcher knows it: its UTF-8 name (encoded once), its owning worker (all its
/// publishes, subscribes and unsubscribes run there, which orders them totally), its engine stream
/// and its subscribers (touched only by the owner).
/// </summary>
internal sealed class TopicState
{
    public TopicState(string name, DispatchWorker owner, ITopicStream stream)
    {
        Name = name;
        Utf8 = Encoding.UTF8.GetBytes(name);
        Owner = owner;
        Stream = stream;
        Kind = KindOf(name);
    }

    public string Name { get; }

    public byte[] Utf8 { get; }

    public DispatchWorker Owner { get; }

    public ITopicStream Stream { get; }

    public TopicKind Kind { get; }

    public SubscriberSet Subscribers { get; } = new();

    /// <summary>
    /// Set by the owner when the idle topic was dropped from the registry. Items still carrying this
    /// state are re-resolved by name on the same owner (same hash), so nothing reaches a dead stream.
    /// </summary>
    public bool Retired { get; set; }

    /// <summary>Replays in progress on this topic (owner thread only): an idle-topic sweep must keep it.</summary>
    public int ActiveReplays { get; set; }

    public static TopicKind KindOf(string topic)
    {
        if (topic.StartsWith(TopicRules.UserPrefix, StringComparison.Ordinal))
        {
            return TopicKind.User;
        }

        if (topic.StartsWith(TopicRules.WorkflowPrefix, StringComparison.Ordinal))
        {
            return TopicKind.Workflow;
        }

        return topic == TopicRules.Broadcast ? TopicKind.Broadcast : TopicKind.Plain;
    }
}
