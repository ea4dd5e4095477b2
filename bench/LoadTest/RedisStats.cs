using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace LoadTest;

/// <summary>
/// Reads <c>INFO commandstats</c> of a loopback redis-server (inline command over a plain socket) at the start and end
/// of the measurement window, and reports Redis commands per publish: a script append is one <c>EVALSHA</c> (one round
/// trip), a SignalR backplane send is one <c>PUBLISH</c>.
/// </summary>
public static class RedisStats
{
    public sealed record Calls(long Count, long Usec);

    public static Dictionary<string, Calls> CommandCalls(int port)
    {
        var d = new Dictionary<string, Calls>();
        if (port <= 0)
        {
            return d;
        }

        try
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Connect(new IPEndPoint(IPAddress.Loopback, port));
            s.Send("INFO commandstats\r\n"u8);
            var buf = new byte[1 << 16];
            var sb = new StringBuilder();
            int expected = -1, headerLen = 0;
            while (true)
            {
                var n = s.Receive(buf);
                if (n <= 0)
                {
                    break;
                }

                sb.Append(Encoding.ASCII.GetString(buf, 0, n));
                var text = sb.ToString();
                if (expected < 0 && text.StartsWith('$') && text.Contains("\r\n", StringComparison.Ordinal))
                {
                    var nl = text.IndexOf("\r\n", StringComparison.Ordinal);
                    expected = int.Parse(text[1..nl], CultureInfo.InvariantCulture);
                    headerLen = nl + 2;
                }

                if (expected >= 0 && text.Length >= headerLen + expected)
                {
                    break;
                }
            }

            foreach (var line in sb.ToString().Split("\r\n"))
            {
                if (!line.StartsWith("cmdstat_", StringComparison.Ordinal))
                {
                    continue;
                }

                var colon = line.IndexOf(':', StringComparison.Ordinal);
                var name = line[8..colon];
                long calls = 0, usec = 0;
                foreach (var kv in line[(colon + 1)..].Split(','))
                {
                    var eq = kv.IndexOf('=', StringComparison.Ordinal);
                    if (eq < 0)
                    {
                        continue;
                    }

                    var k = kv[..eq];
                    if (k == "calls")
                    {
                        calls = long.Parse(kv[(eq + 1)..], CultureInfo.InvariantCulture);
                    }
                    else if (k == "usec")
                    {
                        usec = long.Parse(kv[(eq + 1)..], CultureInfo.InvariantCulture);
                    }
                }

                d[name] = new Calls(calls, usec);
            }
        }
        catch (Exception e)
        {
            Console.Error.WriteLine("redis INFO commandstats failed: " + e.Message);
        }

        return d;
    }

    /// <summary>Adds the window's Redis command counts and counts per publish to the result's extras.</summary>
    public static void Report(RunResult r, Dictionary<string, Calls> before, Dictionary<string, Calls> after, long publishes)
    {
        var delta = after.Keys
            .Select(k => (k, c: after[k].Count - before.GetValueOrDefault(k, new Calls(0, 0)).Count, u: after[k].Usec - before.GetValueOrDefault(k, new Calls(0, 0)).Usec))
            .Where(x => x.c > 0 && x.k != "info")
            .OrderByDescending(x => x.c)
            .ToList();
        // Redis 7 counts the commands a script runs (HINCRBY, XADD, SPUBLISH, ...) besides the EVALSHA itself, and the
        // script's usec include theirs: with scripts, the round trips and the Redis CPU are those of EVAL/EVALSHA.
        var scripts = delta.Where(x => x.k is "evalsha" or "eval" or "evalsha_ro" or "eval_ro" or "fcall").ToList();
        long roundTrips = scripts.Count > 0 ? scripts.Sum(x => x.c) : delta.Sum(x => x.c);
        long usec = scripts.Count > 0 ? scripts.Sum(x => x.u) : delta.Sum(x => x.u);
        r.Extra["redisWindowPublishes"] = publishes;
        r.Extra["redisWindowCalls"] = delta.ToDictionary(x => x.k, x => x.c);
        r.Extra["redisWindowUsec"] = delta.ToDictionary(x => x.k, x => x.u);
        if (publishes > 0)
        {
            r.Extra["redisCallsPerPublish"] = delta.ToDictionary(x => x.k, x => Math.Round(x.c / (double)publishes, 4));
            r.Extra["redisScriptCallsPerPublish"] = Math.Round(scripts.Sum(x => x.c) / (double)publishes, 4);
            r.Extra["redisRoundTripsPerPublish"] = Math.Round(roundTrips / (double)publishes, 4);
            r.Extra["redisAllCallsPerPublish"] = Math.Round(delta.Sum(x => x.c) / (double)publishes, 4);
            r.Extra["redisServerUsecPerPublish"] = Math.Round(usec / (double)publishes, 2);
        }
    }
}
