namespace Gateway.Transport.WebSockets;

/// <summary>An HTTP answer that refuses a WebSocket upgrade before the 101 (the same on both transports).</summary>
/// <param name="Status">HTTP status code.</param>
/// <param name="Error">Error name, sent in <c>X-ArchMesh-Error</c>.</param>
/// <param name="Text">Body (text/plain, a newline is appended).</param>
/// <param name="RetryAfterSeconds">Sent as <c>Retry-After</c> when above 0.</param>
internal sealed record WebSocketRefusal(int Status, string Error, string Text, int RetryAfterSeconds = 0)
{
    /// <summary>The <c>Content-Type</c> of the body.</summary>
    public const string ContentType = "text/plain; charset=utf-8";

    /// <summary>The header that names the error.</summary>
    public const string ErrorHeader = "X-ArchMesh-Error";

    /// <summary>The body as sent.</summary>
    public string Body => Text + "\n";
}
