namespace Gateway.Api;

/// <summary>
/// Marks a connection accepted by the management listener (<c>Gateway:Management:Urls</c>): set by the listener's
/// connection middleware, read by <see cref="ManagementListener"/> through the request's features. Only the
/// listener sets it, so no header or Host value can make a public request look like a management one.
/// </summary>
public sealed class ManagementConnectionFeature
{
    private ManagementConnectionFeature()
    {
    }

    /// <summary>The one instance.</summary>
    public static ManagementConnectionFeature Instance { get; } = new();
}
