using Gateway.Transport;
using Microsoft.Extensions.Hosting;

namespace Gateway.Hosting;

/// <summary>
/// One timer for all connections (instead of timers per connection, which would cost memory per idle
/// connection): every tick it checks connect deadlines, idle timeouts, token expiry and slow
/// consumers, sends due heartbeats and refills the rate-limit buckets. Each tick walks at most
/// <see cref="BudgetPerTick"/> connections of the registry in place (no snapshot, no lock, no allocation): with N
/// connections every connection is ticked at least once per round of ceil(N / <see cref="BudgetPerTick"/>) ticks
/// (see <see cref="SweepTable{T}"/> for the exact bound).
/// </summary>
public sealed class ConnectionSweeper(ConnectionRegistry registry, TimeProvider time) : BackgroundService
{
    /// <summary>Ticks per second.</summary>
    public const int TicksPerSecond = 10;

    /// <summary>
    /// Connections ticked per tick at most. Above the default connection cap (19,000), so by default every connection is
    /// still ticked every tick: <see cref="ClientConnection"/>'s rate-limit buckets are refilled by a fixed amount per
    /// tick (FramesPerSecond / TicksPerSecond tokens per call, see ClientConnection.ReplenishRateLimits), so ticking a connection
    /// less often would lower its frames/s and bytes/s limits. Beyond it the work per tick stays bounded.
    /// </summary>
    public const int BudgetPerTick = 20_000;

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
                var visitor = new TickVisitor(Environment.TickCount64, time.GetUtcNow().ToUnixTimeMilliseconds());
                registry.Sweep(BudgetPerTick, ref visitor);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Ticks one connection with the tick's clock readings.</summary>
    private readonly struct TickVisitor(long nowMs, long unixNowMs) : ISweepVisitor<ClientConnection>
    {
        public void Visit(ClientConnection item) => item.Tick(nowMs, unixNowMs);
    }
}
