namespace Chaos;

/// <summary>How a failed publish attempt ended, from the publisher's point of view.</summary>
public enum PublishOutcome
{
    /// <summary>Refused, and the gateway says a retry may succeed.</summary>
    Retryable,

    /// <summary>Refused for good.</summary>
    Fatal,

    /// <summary>No answer: the message may or may not have been published.</summary>
    Unknown,
}
