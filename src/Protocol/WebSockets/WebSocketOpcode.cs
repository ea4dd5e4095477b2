namespace Gateway.Protocol.WebSockets;

/// <summary>The RFC 6455 opcodes (§5.2); every other value is reserved and refused with 1002.</summary>
public enum WebSocketOpcode : byte
{
    /// <summary>Continues a fragmented message.</summary>
    Continuation = 0x0,

    /// <summary>Text message (refused by the gateway with 1003).</summary>
    Text = 0x1,

    /// <summary>Binary message (the only data the gateway accepts).</summary>
    Binary = 0x2,

    /// <summary>Close control frame.</summary>
    Close = 0x8,

    /// <summary>Ping control frame.</summary>
    Ping = 0x9,

    /// <summary>Pong control frame.</summary>
    Pong = 0xA,
}
