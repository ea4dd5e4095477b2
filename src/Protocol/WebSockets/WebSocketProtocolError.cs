namespace Gateway.Protocol.WebSockets;

/// <summary>Why a peer's WebSocket framing is refused; <see cref="WebSocketProtocolException.CloseCode"/> maps each to its close code.</summary>
public enum WebSocketProtocolError
{
    /// <summary>RSV1-3 set without a negotiated extension (1002).</summary>
    ReservedBits,

    /// <summary>Opcode 3-7 or B-F (1002).</summary>
    UnknownOpcode,

    /// <summary>A client frame without the mask bit (1002).</summary>
    UnmaskedFrame,

    /// <summary>A control frame with a payload over 125 bytes (1002).</summary>
    ControlFrameTooLong,

    /// <summary>A control frame without FIN (1002).</summary>
    FragmentedControlFrame,

    /// <summary>A 64-bit payload length with the most significant bit set (1002).</summary>
    InvalidLength,

    /// <summary>A continuation frame with no message in progress (1002).</summary>
    UnexpectedContinuation,

    /// <summary>A new data frame while a fragmented message is still in progress (1002).</summary>
    ExpectedContinuation,

    /// <summary>A close payload of one byte or with a code that must not be sent (1002).</summary>
    InvalidClosePayload,

    /// <summary>A close reason that is not valid UTF-8 (1007).</summary>
    InvalidCloseReason,

    /// <summary>A text message: the protocol is binary only (1003).</summary>
    TextNotSupported,

    /// <summary>A message larger than the configured limit (1009).</summary>
    MessageTooBig,
}
