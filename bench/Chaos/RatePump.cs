using System.Diagnostics;

namespace Chaos;

/// <summary>
/// Starts <c>send(n)</c> for message n = 0, 1, 2, ... at a steady rate without waiting for earlier ones
/// (a publish stuck in a fault must not slow the stream), bounded by a number in flight; a message due
/// while the bound is reached is skipped and counted, so the rate stays honest.
/// </summary>
public sealed class RatePump(double ratePerSecond, int maxInFlight, Func<long, Task> send, Action onSkipped)
{
    private int _inFlight;
    private long _next;

    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Messages started or skipped.</summary>
    public long Scheduled => Interlocked.Read(ref _next);

    /// <summary>Runs until <paramref name="stop"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken stop)
    {
        if (ratePerSecond <= 0)
        {
            return;
        }

        var start = Stopwatch.GetTimestamp();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(10));
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                var due = (long)(Stopwatch.GetElapsedTime(start).TotalSeconds * ratePerSecond);
                while (_next < due)
                {
                    var n = _next++;
                    if (Volatile.Read(ref _inFlight) >= maxInFlight)
                    {
                        onSkipped();
                        continue;
                    }

                    Interlocked.Increment(ref _inFlight);
                    _ = RunOneAsync(n);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped.
        }
    }

    /// <summary>Waits until nothing is in flight (publishes finish within their own deadlines), at most <paramref name="timeout"/>.</summary>
    public async Task DrainAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (InFlight > 0 && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(50).ConfigureAwait(false);
        }
    }

    private async Task RunOneAsync(long n)
    {
        try
        {
            await send(n).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }
}
