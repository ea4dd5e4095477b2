namespace Gateway.Client;

/// <summary>
/// The connection failed or was lost (no protocol error code): the request's outcome is unknown.
/// Always retryable; a retried publish may be applied twice.
/// </summary>
public sealed class GatewayConnectionException : GatewayException
{
    /// <summary>Creates the exception.</summary>
    public GatewayConnectionException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <inheritdoc />
    public override bool IsRetryable => true;
}
