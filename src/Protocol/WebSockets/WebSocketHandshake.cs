using System.Security.Cryptography;
using System.Text;

namespace Gateway.Protocol.WebSockets;

/// <summary>The opening handshake's key check and <c>Sec-WebSocket-Accept</c> (RFC 6455 §4.2.1, §4.2.2).</summary>
public static class WebSocketHandshake
{
    /// <summary>The GUID appended to the key before hashing (§1.3).</summary>
    public const string KeyGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>Length of <c>Sec-WebSocket-Accept</c>: base64 of a 20-byte SHA-1.</summary>
    public const int AcceptLength = 28;

    /// <summary>Whether <paramref name="key"/> is a valid <c>Sec-WebSocket-Key</c>: base64 of exactly 16 bytes.</summary>
    public static bool IsValidKey(ReadOnlySpan<char> key)
    {
        key = key.Trim();
        Span<byte> decoded = stackalloc byte[18];
        return key.Length == 24 && Convert.TryFromBase64Chars(key, decoded, out var written) && written == 16;
    }

    /// <summary>Computes <c>Sec-WebSocket-Accept</c> for <paramref name="key"/> into <paramref name="destination"/> (28 ASCII bytes).</summary>
    /// <returns>Bytes written (28).</returns>
    public static int ComputeAccept(ReadOnlySpan<char> key, Span<byte> destination)
    {
        key = key.Trim();
        Span<byte> input = stackalloc byte[key.Length + KeyGuid.Length];
        var written = Encoding.ASCII.GetBytes(key, input);
        written += Encoding.ASCII.GetBytes(KeyGuid, input[written..]);
        Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
#pragma warning disable CA5350 // SHA-1 is what RFC 6455 prescribes for the accept value; it is not used for security.
        SHA1.HashData(input[..written], hash);
#pragma warning restore CA5350
        System.Buffers.Text.Base64.EncodeToUtf8(hash, destination, out _, out var encoded);
        return encoded;
    }

    /// <summary>Computes <c>Sec-WebSocket-Accept</c> for <paramref name="key"/> as a string.</summary>
    public static string ComputeAccept(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        Span<byte> accept = stackalloc byte[AcceptLength];
        var written = ComputeAccept(key.AsSpan(), accept);
        return Encoding.ASCII.GetString(accept[..written]);
    }
}
