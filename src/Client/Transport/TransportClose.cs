using Gateway.Protocol.Errors;

namespace Gateway.Client.Transport;

/// <summary>A close reported by the peer: the WebSocket close status mapped to a protocol error code.</summary>
/// <param name="CloseStatus">WebSocket close status (0 for raw TCP).</param>
/// <param name="Code">The protocol error code the close status stands for (None when unknown or normal).</param>
/// <param name="Description">The peer's close text.</param>
internal sealed record TransportClose(int CloseStatus, ErrorCode Code, string? Description)
{
    /// <summary>Maps a WebSocket close status to the first error of the catalog that uses it.</summary>
    public static ErrorCode CodeFor(int closeStatus)
    {
        if (closeStatus is 1000 or 1001 or 0)
        {
            return closeStatus == 1001 ? ErrorCode.ServerShuttingDown : ErrorCode.None;
        }

        foreach (var info in ErrorCatalog.All)
        {
            if (info.Fatal && info.CloseCode == closeStatus)
            {
                return info.Code;
            }
        }

        return ErrorCode.None;
    }
}
