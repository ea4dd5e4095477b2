namespace Gateway.Protocol.WebSockets;

/// <summary>RFC 6455 §7.4.1 close codes the codec itself produces or checks.</summary>
public static class WebSocketCloseCodes
{
    /// <summary>Normal closure.</summary>
    public const ushort Normal = 1000;

    /// <summary>Going away (drain).</summary>
    public const ushort GoingAway = 1001;

    /// <summary>Protocol error.</summary>
    public const ushort ProtocolError = 1002;

    /// <summary>Unsupported data (text on a binary-only endpoint).</summary>
    public const ushort UnsupportedData = 1003;

    /// <summary>No status code was present (never sent on the wire).</summary>
    public const ushort NoStatus = 1005;

    /// <summary>Invalid payload data (bad UTF-8 in a close reason).</summary>
    public const ushort InvalidPayload = 1007;

    /// <summary>Message too big.</summary>
    public const ushort MessageTooBig = 1009;

    /// <summary>
    /// Whether a peer may send <paramref name="code"/> in a close frame: 1000-1003, 1007-1011 (and 1012-1014, registered
    /// since), 3000-4999. 1004-1006 and 1015 are reserved for local use, the rest is unassigned.
    /// </summary>
    public static bool IsValidOnWire(ushort code) => code switch
    {
        >= 1000 and <= 1003 => true,
        >= 1007 and <= 1014 => true,
        >= 3000 and <= 4999 => true,
        _ => false,
    };
}
