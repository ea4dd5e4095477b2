using Gateway.Configuration;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gateway.Api;

/// <summary>
/// The warning log of HTTP API refusals (401, 403, 413, 429, bad requests), sampled so that a client hammering the
/// API cannot flood the logs: at most one line per caller per <c>Gateway:Http:RefusalLogInterval</c> (10 s), with
/// the number of refusals since the caller's previous line and the latest refusal. The caller is the authenticated
/// key or token (<see cref="ApiCaller.Name"/>), else the client address. At most <see cref="MaxCallers"/> callers are
/// tracked; beyond that (an attacker varying addresses) the others share one line.
/// </summary>
public sealed class ApiRefusalLog(IOptions<GatewayOptions> options, TimeProvider time, ILogger<ApiRefusalLog> logger)
{
    /// <summary>Callers tracked at most.</summary>
    public const int MaxCallers = 10_000;

    private const string Others = "(other callers)";

    private readonly Dictionary<string, Entry> _callers = new(StringComparer.Ordinal);
    private readonly TimeSpan _interval = options.Value.Http.RefusalLogInterval;
    private readonly Lock _lock = new();

    /// <summary>Counts a refusal and logs it when the caller's interval has passed.</summary>
    public void Refused(HttpContext context, int status, string errorName, string detail)
    {
        ArgumentNullException.ThrowIfNull(context);
        var caller = ApiCaller.Find(context)?.Name ?? "address " + (context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
        var now = time.GetTimestamp();
        int count;
        long seconds;
        lock (_lock)
        {
            if (!_callers.TryGetValue(caller, out var entry) && _callers.Count >= MaxCallers)
            {
                Forget(now);
                if (_callers.Count >= MaxCallers)
                {
                    caller = Others;
                    _callers.TryGetValue(caller, out entry);
                }
            }

            if (entry is null)
            {
                // First refusal of this caller (in a while): logged at once.
                _callers[caller] = new Entry { LoggedAt = now };
                count = 1;
                seconds = 0;
            }
            else
            {
                entry.Count++;
                var elapsed = time.GetElapsedTime(entry.LoggedAt, now);
                if (elapsed < _interval)
                {
                    return;
                }

                count = entry.Count;
                seconds = (long)elapsed.TotalSeconds;
                entry.Count = 0;
                entry.LoggedAt = now;
            }
        }

        ApiLog.Refused(logger, count, caller, seconds, status, errorName, detail);
    }

    private void Forget(long now)
    {
        List<string>? idle = null;
        foreach (var (name, entry) in _callers)
        {
            // Quiet for a whole interval: forgetting it loses at most that caller's unreported count.
            if (time.GetElapsedTime(entry.LoggedAt, now) >= _interval)
            {
                (idle ??= []).Add(name);
            }
        }

        foreach (var name in idle ?? [])
        {
            _callers.Remove(name);
        }
    }

    private sealed class Entry
    {
        public long LoggedAt { get; set; }

        public int Count { get; set; }
    }
}
