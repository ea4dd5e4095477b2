namespace Gateway.Configuration;

/// <summary><c>Gateway:WebSocket</c>: which server implementation serves <c>/ws</c>, and its message bound.</summary>
public sealed class WebSocketTransportOptions
{
    /// <summary>The gateway's own RFC 6455 server on Kestrel's connection pipes (the default).</summary>
    public const string Raw = "raw";

    /// <summary>ASP.NET Core's WebSocket middleware (the fallback).</summary>
    public const string AspNet = "aspnet";

    /// <summary>
    /// <c>raw</c> (default): the upgrade to <c>/ws</c> is recognised by a connection middleware, which takes the
    /// connection over and speaks WebSocket itself; <c>aspnet</c>: the ASP.NET Core WebSocket middleware (kept so both
    /// can be compared and as a fallback).
    /// </summary>
    public string Transport { get; set; } = Raw;

    /// <summary>
    /// Largest WebSocket message a client may send on the raw transport, in bytes; a larger one is refused with close
    /// code 1009 as soon as a frame header declares it. A message may hold several protocol frames, each bounded by
    /// <c>Gateway:Limits:MaxFrameLength</c>. Between 1 KiB and 64 MiB.
    /// </summary>
    public int MaxMessageBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Whether <see cref="Transport"/> selects the raw transport.</summary>
    public bool IsRaw => string.Equals(Transport, Raw, StringComparison.Ordinal);
}
