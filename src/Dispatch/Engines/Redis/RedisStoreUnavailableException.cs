namespace Gateway.Dispatch.Engines.Redis;

/// <summary>
/// A <see cref="RedisStreamStore"/> operation could not be completed because Redis is unreachable, the
/// connection failed, or Redis did not answer within <see cref="RedisStoreOptions.OperationTimeout"/>.
/// Retryable. When <see cref="OutcomeUnknown"/> is true the command may have been applied (an append may
/// have taken an offset): the caller must not report it as certainly failed nor as certainly done.
/// </summary>
public sealed class RedisStoreUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RedisStoreUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public RedisStoreUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the client's exception.</summary>
    public RedisStoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception, saying whether the command may have reached Redis.</summary>
    public RedisStoreUnavailableException(string message, bool outcomeUnknown, Exception? innerException)
        : base(message, innerException)
    {
        OutcomeUnknown = outcomeUnknown;
    }

    /// <summary>True when the command may have been sent and applied (timeout or connection lost while waiting for the answer).</summary>
    public bool OutcomeUnknown { get; }
}
