using System.Buffers.Binary;
using System.Buffers.Text;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Engines.Redis;

/// <summary>
/// Byte layouts the store writes to Redis. The client builds a <b>body</b> once per append; the Lua script
/// stores and publishes it unchanged behind a short ASCII prefix it alone can compute (epoch, offset), because
/// Lua numbers are doubles and cannot carry a 63-bit epoch in binary.
/// <code>
/// body            = version(1) priority(1) timestampMs(8, LE) nodeIdLength(1) nodeId(UTF-8) payload
/// live / retained = "&lt;epoch&gt;:&lt;offset&gt;:" body          (decimal ASCII)
/// pending member  = "&lt;offset&gt;:&lt;expiresAtMs&gt;:" body    (offset first keeps members unique)
/// idempotency     = 'I' fingerprint | 'C' epoch(8, LE) offset(8, LE) fingerprint
/// </code>
/// </summary>
internal static class MessageRecord
{
    public const byte Version = 1;

    /// <summary>version, priority, timestamp, node id length.</summary>
    public const int BodyHeaderLength = 1 + 1 + 8 + 1;

    public static int BodyLength(int nodeIdLength, int payloadLength) => BodyHeaderLength + nodeIdLength + payloadLength;

    public static void WriteBody(Span<byte> destination, ReadOnlySpan<byte> nodeIdUtf8, Priority priority, long timestampMs, ReadOnlySpan<byte> payload)
    {
        destination[0] = Version;
        destination[1] = (byte)priority;
        BinaryPrimitives.WriteInt64LittleEndian(destination[2..], timestampMs);
        destination[10] = (byte)nodeIdUtf8.Length;
        nodeIdUtf8.CopyTo(destination[BodyHeaderLength..]);
        payload.CopyTo(destination[(BodyHeaderLength + nodeIdUtf8.Length)..]);
    }

    public static bool TryReadBody(ReadOnlyMemory<byte> body, out Priority priority, out long timestampMs, out ReadOnlyMemory<byte> nodeIdUtf8, out ReadOnlyMemory<byte> payload)
    {
        var span = body.Span;
        priority = default;
        timestampMs = 0;
        nodeIdUtf8 = default;
        payload = default;
        if (span.Length < BodyHeaderLength || span[0] != Version || span[1] > (byte)Priority.Low)
        {
            return false;
        }

        var nodeIdLength = span[10];
        if (span.Length < BodyHeaderLength + nodeIdLength)
        {
            return false;
        }

        priority = (Priority)span[1];
        timestampMs = BinaryPrimitives.ReadInt64LittleEndian(span[2..]);
        nodeIdUtf8 = body.Slice(BodyHeaderLength, nodeIdLength);
        payload = body[(BodyHeaderLength + nodeIdLength)..];
        return true;
    }

    /// <summary>Reads a body into a <see cref="StoredMessage"/> at <paramref name="offset"/>.</summary>
    public static bool TryReadStored(ReadOnlyMemory<byte> body, ulong offset, out StoredMessage message)
    {
        if (!TryReadBody(body, out var priority, out var timestamp, out _, out var payload))
        {
            message = default;
            return false;
        }

        message = new StoredMessage(offset, priority, timestamp, payload);
        return true;
    }

    /// <summary>Splits <c>"&lt;a&gt;:&lt;b&gt;:" rest</c> (two decimal numbers) as written by the scripts.</summary>
    public static bool TryReadTwoNumbers(ReadOnlyMemory<byte> record, out ulong first, out ulong second, out ReadOnlyMemory<byte> rest)
    {
        var span = record.Span;
        second = 0;
        rest = default;
        if (!Utf8Parser.TryParse(span, out first, out var used) || used >= span.Length || span[used] != (byte)':')
        {
            return false;
        }

        var position = used + 1;
        if (!Utf8Parser.TryParse(span[position..], out second, out used) || position + used >= span.Length || span[position + used] != (byte)':')
        {
            return false;
        }

        rest = record[(position + used + 1)..];
        return true;
    }

    public const byte IdempotencyInFlight = (byte)'I';
    public const byte IdempotencyCompleted = (byte)'C';

    public static byte[] InFlightValue(ReadOnlySpan<byte> fingerprint)
    {
        var value = new byte[1 + fingerprint.Length];
        value[0] = IdempotencyInFlight;
        fingerprint.CopyTo(value.AsSpan(1));
        return value;
    }

    public static byte[] CompletedValue(ReadOnlySpan<byte> fingerprint, ulong epoch, ulong offset)
    {
        var value = new byte[17 + fingerprint.Length];
        value[0] = IdempotencyCompleted;
        BinaryPrimitives.WriteUInt64LittleEndian(value.AsSpan(1), epoch);
        BinaryPrimitives.WriteUInt64LittleEndian(value.AsSpan(9), offset);
        fingerprint.CopyTo(value.AsSpan(17));
        return value;
    }
}
