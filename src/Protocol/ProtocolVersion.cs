using Gateway.Protocol.Errors;

namespace Gateway.Protocol;

/// <summary>
/// Version negotiation of protocol v1 (docs/protocol.md §2): the WebSocket subprotocol name, the
/// raw-TCP hello and the version byte of the Connect frame.
/// </summary>
public static class ProtocolVersion
{
    /// <summary>The protocol version this library speaks.</summary>
    public const byte Current = 1;

    /// <summary>The WebSocket subprotocol that selects protocol v1.</summary>
    public const string WebSocketSubprotocol = "archmesh.v1";

    /// <summary>Size of the raw-TCP hello: the magic "AMSH" and a u16 big-endian version.</summary>
    public const int TcpHelloSize = 6;

    /// <summary>The raw-TCP hello of v1, sent by the client first and echoed by the server on success.</summary>
    public static ReadOnlySpan<byte> TcpHello => [0x41, 0x4D, 0x53, 0x48, 0x00, Current];

    /// <summary>
    /// Checks a received 6-byte raw-TCP hello: <see cref="ErrorCode.None"/> when it is v1,
    /// <see cref="ErrorCode.MalformedFrame"/> when the magic is wrong (not an ArchMesh client),
    /// <see cref="ErrorCode.UnsupportedVersion"/> when the version is not 1.
    /// </summary>
    public static ErrorCode ValidateTcpHello(ReadOnlySpan<byte> hello)
    {
        if (hello.Length != TcpHelloSize || !hello[..4].SequenceEqual(TcpHello[..4]))
        {
            return ErrorCode.MalformedFrame;
        }

        return hello[4] == 0 && hello[5] == Current ? ErrorCode.None : ErrorCode.UnsupportedVersion;
    }
}
