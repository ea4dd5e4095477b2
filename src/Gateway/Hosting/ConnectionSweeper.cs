using Microsoft.Extensions.Hosting;

namespace Gateway.Hosting;

/// <summary>
/// One timer for all connections (instead of timers per connection, which would cost memory per idle
/// connection): every tick it checks connect deadlines, idle timeouts, token expiry and slow
/// consumers, sends due heartbeats and refills the rate-limit buckets.
/// </summary>
public sealed class ConnectionSweeper(ConnectionRegistry registry, TimeProvider time) : BackgroundService
{
    /// <summary>Ticks per second.</summary>
    public const int TicksPerSecond = 10;

    /// <summary>Interval between ticks.</summary>
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(1000 / TicksPerSecond);

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TickInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                var now = Environment.TickCount64;
                var unixNow = time.GetUtcNow().ToUnixTimeMilliseconds();
                foreach (var connection in registry.Connections)
                {
                    connection.Tick(now, unixNow);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
