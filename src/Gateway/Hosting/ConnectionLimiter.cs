using System.Collections.Concurrent;
using System.Net;
using Gateway.Configuration;
using Gateway.Protocol.Errors;
using Microsoft.Extensions.Options;

namespace Gateway.Hosting;

/// <summary>
/// Counts connections per node and per client address and refuses beyond the limits before any
/// protocol work (and below Kestrel's own upgrade cap, which throws instead of refusing cleanly).
/// </summary>
public sealed class ConnectionLimiter(IOptions<GatewayOptions> options)
{
    private readonly int _maxConnections = options.Value.Limits.MaxConnections;
    private readonly int _maxPerIp = options.Value.Limits.MaxConnectionsPerIp;
    private readonly ConcurrentDictionary<IPAddress, int> _perIp = new();
    private int _total;

    /// <summary>Connections currently counted.</summary>
    public int Count => Volatile.Read(ref _total);

    /// <summary>Whether the node is at its connection cap (readiness goes false).</summary>
    public bool AtCapacity => Count >= _maxConnections;

    /// <summary>Takes a slot; on success the caller must <see cref="Release"/> it.</summary>
    /// <returns>None, or TooManyConnections with <paramref name="perAddress"/> telling which limit.</returns>
    public ErrorCode TryAcquire(IPAddress? address, out bool perAddress)
    {
        perAddress = false;
        if (Interlocked.Increment(ref _total) > _maxConnections)
        {
            Interlocked.Decrement(ref _total);
            return ErrorCode.TooManyConnections;
        }

        if (address is null)
        {
            return ErrorCode.None;
        }

        var count = _perIp.AddOrUpdate(address, 1, static (_, c) => c + 1);
        if (count > _maxPerIp)
        {
            ReleaseAddress(address);
            Interlocked.Decrement(ref _total);
            perAddress = true;
            return ErrorCode.TooManyConnections;
        }

        return ErrorCode.None;
    }

    /// <summary>Returns a slot taken by <see cref="TryAcquire"/>.</summary>
    public void Release(IPAddress? address)
    {
        if (address is not null)
        {
            ReleaseAddress(address);
        }

        Interlocked.Decrement(ref _total);
    }

    private void ReleaseAddress(IPAddress address)
    {
        while (true)
        {
            if (!_perIp.TryGetValue(address, out var count))
            {
                return;
            }

            if (count <= 1)
            {
                // Remove only if still 1, so idle addresses do not accumulate entries.
                if (_perIp.TryRemove(new KeyValuePair<IPAddress, int>(address, count)))
                {
                    return;
                }
            }
            else if (_perIp.TryUpdate(address, count - 1, count))
            {
                return;
            }
        }
    }
}
