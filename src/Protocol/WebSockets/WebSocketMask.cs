using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Gateway.Protocol.WebSockets;

/// <summary>RFC 6455 §5.3 masking, applied in place (XOR is its own inverse: the same call masks and unmasks).</summary>
public static class WebSocketMask
{
    /// <summary>
    /// XORs <paramref name="data"/> with the 4-byte <paramref name="maskKey"/> (as read from the wire, big-endian),
    /// where <paramref name="data"/>[0] is byte <paramref name="payloadOffset"/> of the frame's payload.
    /// </summary>
    public static void Apply(Span<byte> data, uint maskKey, long payloadOffset)
    {
        // Rotate the key so that it starts at the byte the data starts at.
        var shift = (int)(payloadOffset & 3) * 8;
        var key = shift == 0 ? maskKey : BitOperations.RotateLeft(maskKey, shift);
        Span<byte> keyBytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(keyBytes, key);
        var i = 0;
        if (data.Length >= 8)
        {
            // Eight bytes at a time: the key repeated twice, in memory order.
            var key32 = MemoryMarshal.Read<uint>(keyBytes);
            var key64 = ((ulong)key32 << 32) | key32;
            var longs = MemoryMarshal.Cast<byte, ulong>(data);
            for (var j = 0; j < longs.Length; j++)
            {
                longs[j] ^= key64;
            }

            i = longs.Length * 8;
        }

        for (; i < data.Length; i++)
        {
            data[i] ^= keyBytes[i & 3];
        }
    }
}
