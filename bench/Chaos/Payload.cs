using System.Text;

namespace Chaos;

/// <summary>
/// The message payload: the JSON array <c>[run,publisher,seq]</c> (the HTTP API delivers a JSON payload as its
/// text; the protocol publisher sends the same bytes), parsed without allocating.
/// </summary>
public static class Payload
{
    public static byte[] Encode(int run, int publisher, long seq) => Encoding.ASCII.GetBytes($"[{run},{publisher},{seq}]");

    public static string Json(int run, int publisher, long seq) => $"[{run},{publisher},{seq}]";

    /// <summary>Parses <c>[run,publisher,seq]</c>; false when the payload has another shape.</summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out int run, out int publisher, out long seq)
    {
        run = 0;
        publisher = 0;
        seq = 0;
        Span<long> values = stackalloc long[3];
        var count = 0;
        var inNumber = false;
        long current = 0;
        foreach (var b in payload)
        {
            if (b is >= (byte)'0' and <= (byte)'9')
            {
                current = (current * 10) + (b - '0');
                inNumber = true;
            }
            else if (inNumber)
            {
                if (count == 3)
                {
                    return false;
                }

                values[count++] = current;
                current = 0;
                inNumber = false;
            }
        }

        if (inNumber)
        {
            if (count == 3)
            {
                return false;
            }

            values[count++] = current;
        }

        if (count != 3)
        {
            return false;
        }

        run = (int)values[0];
        publisher = (int)values[1];
        seq = values[2];
        return true;
    }
}
