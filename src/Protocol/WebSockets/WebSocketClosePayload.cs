using System.Buffers.Binary;

namespace Gateway.Protocol.WebSockets;

/// <summary>The payload of a close frame (§5.5.1): an optional u16 BE status code, then a UTF-8 reason.</summary>
public static class WebSocketClosePayload
{
    /// <summary>Longest reason: a control payload is at most 125 bytes, two of them the code.</summary>
    public const int MaxReasonBytes = WebSocketFrameHeader.MaxControlPayload - 2;

    /// <summary>
    /// Parses a received close payload. Empty: no code (<see cref="WebSocketCloseCodes.NoStatus"/>). Throws
    /// <see cref="WebSocketProtocolException"/>: one byte or a code that must not be sent → 1002, a reason that is not
    /// valid UTF-8 → 1007.
    /// </summary>
    /// <param name="payload">The unmasked payload.</param>
    /// <param name="reason">The reason bytes (UTF-8, checked).</param>
    /// <returns>The status code.</returns>
    public static ushort Parse(ReadOnlySpan<byte> payload, out ReadOnlySpan<byte> reason)
    {
        reason = default;
        if (payload.IsEmpty)
        {
            return WebSocketCloseCodes.NoStatus;
        }

        if (payload.Length == 1)
        {
            WebSocketProtocolException.Throw(WebSocketProtocolError.InvalidClosePayload, "A close payload of one byte (RFC 6455 §5.5.1).");
        }

        var code = BinaryPrimitives.ReadUInt16BigEndian(payload);
        if (!WebSocketCloseCodes.IsValidOnWire(code))
        {
            WebSocketProtocolException.Throw(WebSocketProtocolError.InvalidClosePayload, $"Close code {code} must not be sent (RFC 6455 §7.4).");
        }

        reason = payload[2..];
        if (!System.Text.Unicode.Utf8.IsValid(reason))
        {
            WebSocketProtocolException.Throw(WebSocketProtocolError.InvalidCloseReason, "The close reason is not valid UTF-8 (RFC 6455 §5.5.1).");
        }

        return code;
    }

    /// <summary>Writes a close payload with <paramref name="code"/> and <paramref name="reason"/> (cut at a character boundary to fit 123 bytes).</summary>
    /// <returns>Bytes written (at most 125).</returns>
    public static int Write(Span<byte> destination, ushort code, string? reason)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, code);
        if (string.IsNullOrEmpty(reason))
        {
            return 2;
        }

        return 2 + WriteReason(destination.Slice(2, Math.Min(MaxReasonBytes, destination.Length - 2)), reason);
    }

    /// <summary>Writes a close payload with <paramref name="code"/> and raw (already valid) UTF-8 <paramref name="reason"/>.</summary>
    /// <returns>Bytes written.</returns>
    public static int Write(Span<byte> destination, ushort code, ReadOnlySpan<byte> reason)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, code);
        var take = Math.Min(reason.Length, MaxReasonBytes);
        reason[..take].CopyTo(destination[2..]);
        return 2 + take;
    }

    private static int WriteReason(Span<byte> destination, string reason)
    {
        // Whole characters only: a reason cut inside a UTF-8 sequence would be invalid and the peer would fail with 1007.
        var written = 0;
        foreach (var rune in reason.EnumerateRunes())
        {
            var size = rune.Utf8SequenceLength;
            if (written + size > destination.Length)
            {
                break;
            }

            written += rune.EncodeToUtf8(destination[written..]);
        }

        return written;
    }
}
