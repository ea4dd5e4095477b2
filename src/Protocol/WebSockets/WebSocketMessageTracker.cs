namespace Gateway.Protocol.WebSockets;

/// <summary>
/// Follows data frames across a message (§5.4): a continuation needs a message in progress, a new message must not
/// start before the last one ended, text is refused (1003), and a message over the limit is refused (1009) as soon as
/// a header declares it, before its payload is read. Control frames may come between fragments and are not passed here.
/// </summary>
public struct WebSocketMessageTracker
{
    private long _messageBytes;

    /// <summary>Creates a tracker for messages of at most <paramref name="maxMessageBytes"/> bytes.</summary>
    public WebSocketMessageTracker(long maxMessageBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessageBytes, 1);
        MaxMessageBytes = maxMessageBytes;
    }

    /// <summary>Largest message accepted.</summary>
    public long MaxMessageBytes { get; }

    /// <summary>Whether a fragmented message is in progress (a non-final frame was seen).</summary>
    public bool InMessage { get; private set; }

    /// <summary>Checks a data frame's header and updates the message state.</summary>
    public void OnDataFrame(in WebSocketFrameHeader header)
    {
        switch (header.Opcode)
        {
            case WebSocketOpcode.Continuation when !InMessage:
                WebSocketProtocolException.Throw(WebSocketProtocolError.UnexpectedContinuation, "A continuation frame without a message in progress (RFC 6455 §5.4).");
                break;
            case WebSocketOpcode.Text:
                WebSocketProtocolException.Throw(WebSocketProtocolError.TextNotSupported, "Text WebSocket messages are not part of the protocol; send binary frames.");
                break;
            case WebSocketOpcode.Binary when InMessage:
                WebSocketProtocolException.Throw(WebSocketProtocolError.ExpectedContinuation, "A new message began before the fragmented one ended (RFC 6455 §5.4).");
                break;
            case WebSocketOpcode.Binary:
                _messageBytes = 0;
                break;
        }

        _messageBytes += header.PayloadLength;
        if (_messageBytes > MaxMessageBytes || _messageBytes < 0)
        {
            WebSocketProtocolException.Throw(WebSocketProtocolError.MessageTooBig, $"A WebSocket message may hold at most {MaxMessageBytes} bytes.");
        }

        InMessage = !header.Fin;
    }
}
