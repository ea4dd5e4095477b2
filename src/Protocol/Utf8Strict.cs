using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace Gateway.Protocol;

/// <summary>UTF-8 helpers that never substitute replacement characters and never allocate.</summary>
public static class Utf8Strict
{
    /// <summary>Strict encoding: lone surrogates fail instead of becoming U+FFFD.</summary>
    public static readonly UTF8Encoding Encoding = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Encodes <paramref name="value"/> into <paramref name="destination"/>; false on invalid UTF-16 or short space.</summary>
    public static bool TryGetBytes(ReadOnlySpan<char> value, Span<byte> destination, out int written)
    {
        var status = Utf8.FromUtf16(value, destination, out _, out written, replaceInvalidSequences: false);
        return status == OperationStatus.Done;
    }

    /// <summary>Exact UTF-8 byte count of <paramref name="value"/>; throws <see cref="ArgumentException"/> on lone surrogates.</summary>
    public static int GetByteCount(ReadOnlySpan<char> value) => Encoding.GetByteCount(value);

    /// <summary>Whether the bytes are valid UTF-8; copies a split sequence into a pooled array.</summary>
    public static bool IsValid(in ReadOnlySequence<byte> bytes)
    {
        if (bytes.IsSingleSegment)
        {
            return Utf8.IsValid(bytes.FirstSpan);
        }

        var length = checked((int)bytes.Length);
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            bytes.CopyTo(rented);
            return Utf8.IsValid(rented.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
