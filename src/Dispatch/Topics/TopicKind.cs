namespace Gateway.Dispatch;

/// <summary>The built-in meaning of a topic, from its namespace (§3).</summary>
public enum TopicKind
{
    /// <summary>Any other topic: subscribers only.</summary>
    Plain = 0,

    /// <summary><c>user:{id}</c>: notifications, pending until acknowledged.</summary>
    User = 1,

    /// <summary><c>workflow:{id}</c>: the latest message is retained.</summary>
    Workflow = 2,

    /// <summary><c>broadcast</c>: every connection, without subscribing.</summary>
    Broadcast = 3,
}
