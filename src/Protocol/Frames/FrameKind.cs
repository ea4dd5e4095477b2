namespace Gateway.Protocol.Frames;

/// <summary>The kind byte of a frame header (protocol v1). See docs/protocol.md §3.</summary>
public enum FrameKind : byte
{
    /// <summary>Client → server: first frame of a connection (version, token, client name, resume token).</summary>
    Connect = 0x01,
    /// <summary>Server → client: the connection is authenticated (ids, heartbeat, limits).</summary>
    Connected = 0x02,
    /// <summary>Client → server: subscribe to a topic, optionally recovering from (epoch, offset).</summary>
    Subscribe = 0x03,
    /// <summary>Server → client: subscription confirmed with the topic's current position.</summary>
    Subscribed = 0x04,
    /// <summary>Client → server: leave a topic.</summary>
    Unsubscribe = 0x05,
    /// <summary>Server → client: unsubscription confirmed.</summary>
    Unsubscribed = 0x06,
    /// <summary>Client → server: publish a payload to a topic with a priority.</summary>
    Publish = 0x07,
    /// <summary>Server → client: the publish with this correlation id was assigned (epoch, offset).</summary>
    PublishAck = 0x08,
    /// <summary>Server → client: a message of a topic.</summary>
    Message = 0x09,
    /// <summary>Client → server: acknowledge a notification (user topic offset).</summary>
    Ack = 0x0A,
    /// <summary>Either direction: heartbeat request.</summary>
    Ping = 0x0B,
    /// <summary>Either direction: heartbeat answer echoing the ping's nonce.</summary>
    Pong = 0x0C,
    /// <summary>Either direction: an error with a code, a correlation id and a text.</summary>
    Error = 0x0D,
    /// <summary>Server → client: reconnect elsewhere after the hinted delay.</summary>
    GoAway = 0x0E,
    /// <summary>Client → server: replace the connection's token.</summary>
    Refresh = 0x0F,
    /// <summary>Server → client: the refreshed token was accepted.</summary>
    Refreshed = 0x10,
}
