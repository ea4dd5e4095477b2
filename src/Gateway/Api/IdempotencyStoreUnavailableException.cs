namespace Gateway.Api;

/// <summary>
/// An <see cref="IIdempotencyStore"/> could not be reached (a shared store such as Redis is down or did not answer
/// in time). <see cref="IdempotencyCache"/> answers the request with the retryable <c>engine_unavailable</c> (503)
/// instead of publishing without having reserved the key.
/// </summary>
public sealed class IdempotencyStoreUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public IdempotencyStoreUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public IdempotencyStoreUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the store's exception.</summary>
    public IdempotencyStoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
