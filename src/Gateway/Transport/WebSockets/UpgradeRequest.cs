using System.Buffers;
using System.Text;
using Gateway.Protocol.WebSockets;

namespace Gateway.Transport.WebSockets;

/// <summary>
/// The head of the first HTTP/1.1 request of a connection, as far as the raw WebSocket transport needs it: request
/// line and the handshake headers. Parsed from at most <see cref="MaxHeadBytes"/> bytes.
/// </summary>
internal sealed class UpgradeRequest
{
    /// <summary>Largest request head (request line + headers + blank line) the raw transport reads; beyond it: 431.</summary>
    public const int MaxHeadBytes = 8 * 1024;

    private static ReadOnlySpan<byte> HeadEnd => "\r\n\r\n"u8;

    /// <summary>The method.</summary>
    public string Method { get; private set; } = "";

    /// <summary>The request target (path and query).</summary>
    public string Target { get; private set; } = "";

    /// <summary>The HTTP version token (<c>HTTP/1.1</c>).</summary>
    public string Version { get; private set; } = "";

    /// <summary>The Upgrade header.</summary>
    public string Upgrade { get; private set; } = "";

    /// <summary>The Connection header(s), comma-joined.</summary>
    public string Connection { get; private set; } = "";

    /// <summary>Sec-WebSocket-Key.</summary>
    public string Key { get; private set; } = "";

    /// <summary>Sec-WebSocket-Version.</summary>
    public string WebSocketVersion { get; private set; } = "";

    /// <summary>Origin ("" when absent).</summary>
    public string Origin { get; private set; } = "";

    /// <summary>X-Forwarded-For header(s), comma-joined; null when absent.</summary>
    public string? ForwardedFor { get; private set; }

    /// <summary>The subprotocols offered in Sec-WebSocket-Protocol (every header, split at commas, trimmed).</summary>
    public List<string> Protocols { get; } = [];

    /// <summary>Whether the Upgrade header names <c>websocket</c> (then the raw transport owns the request).</summary>
    public bool WantsWebSocket => HasToken(Upgrade, "websocket");

    /// <summary>The same test as ASP.NET Core's <c>IsWebSocketRequest</c>: GET, HTTP/1.1, Connection: Upgrade, Upgrade: websocket, version 13, a valid key.</summary>
    public bool IsValidWebSocketRequest =>
        Method == "GET"
        && Version == "HTTP/1.1"
        && HasToken(Connection, "upgrade")
        && WantsWebSocket
        && WebSocketVersion.Trim() == "13"
        && WebSocketHandshake.IsValidKey(Key);

    /// <summary>Whether <paramref name="buffer"/> (what arrived so far) starts a request for <c>/ws</c>; null while too short to tell.</summary>
    public static bool? IsWebSocketPath(in ReadOnlySequence<byte> buffer)
    {
        ReadOnlySpan<byte> prefix = "GET /ws"u8;
        Span<byte> start = stackalloc byte[8];
        var length = (int)Math.Min(buffer.Length, start.Length);
        buffer.Slice(0, length).CopyTo(start);
        var common = Math.Min(length, prefix.Length);
        if (!start[..common].SequenceEqual(prefix[..common]))
        {
            return false;
        }

        if (length < 8)
        {
            return null;
        }

        return start[7] is (byte)' ' or (byte)'?';
    }

    /// <summary>Finds the end of the head: the position after the blank line, or null when not there yet.</summary>
    public static SequencePosition? FindEnd(in ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> _, HeadEnd, advancePastDelimiter: true) ? reader.Position : null;
    }

    /// <summary>Parses a complete head (ending with the blank line); null when it is not a well-formed HTTP/1.x request head.</summary>
    public static UpgradeRequest? Parse(in ReadOnlySequence<byte> head)
    {
        var bytes = head.Length <= MaxHeadBytes ? head.ToArray() : null;
        if (bytes is null)
        {
            return null;
        }

        var text = Encoding.Latin1.GetString(bytes);
        var lines = text.Split("\r\n");
        var requestLine = lines[0].Split(' ');
        if (requestLine.Length != 3 || requestLine[0].Length == 0 || requestLine[1].Length == 0 || !requestLine[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            return null;
        }

        var request = new UpgradeRequest { Method = requestLine[0], Target = requestLine[1], Version = requestLine[2] };
        var connection = new StringBuilder();
        var forwarded = new StringBuilder();
        for (var i = 1; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.Length == 0)
            {
                continue; // the blank line that ends the head
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || line[0] is ' ' or '\t' || line[colon - 1] is ' ' or '\t' || line.AsSpan().ContainsAny('\0', '\r', '\n'))
            {
                return null; // no name, obsolete line folding, whitespace before the colon, or control bytes
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(' ', '\t');
            switch (name.ToLowerInvariant())
            {
                case "upgrade":
                    request.Upgrade = value;
                    break;
                case "connection":
                    Append(connection, value);
                    break;
                case "sec-websocket-key":
                    request.Key = value;
                    break;
                case "sec-websocket-version":
                    request.WebSocketVersion = value;
                    break;
                case "sec-websocket-protocol":
                    foreach (var protocol in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                    {
                        request.Protocols.Add(protocol);
                    }

                    break;
                case "origin":
                    request.Origin = value;
                    break;
                case "x-forwarded-for":
                    Append(forwarded, value);
                    break;
            }
        }

        request.Connection = connection.ToString();
        request.ForwardedFor = forwarded.Length == 0 ? null : forwarded.ToString();
        return request;
    }

    private static void Append(StringBuilder builder, string value)
    {
        if (builder.Length > 0)
        {
            builder.Append(',');
        }

        builder.Append(value);
    }

    private static bool HasToken(string header, string token)
    {
        foreach (var part in header.Split(',', StringSplitOptions.TrimEntries))
        {
            if (part.Equals(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
