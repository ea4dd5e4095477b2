namespace Chaos;

/// <summary>
/// Per-second samples of one scenario (delivered msgs/s to the applications, connected clients, acknowledged
/// publishes/s, publish errors/s) plus fault markers and the fault window.
/// </summary>
public sealed class Timeline
{
    private readonly Lock _lock = new();

    public List<TimelinePoint> Points { get; } = [];

    public List<Marker> Markers { get; } = [];

    /// <summary>Start and end of the fault (seconds on the scenario clock), for the chart's shading.</summary>
    public double FaultStart { get; set; } = double.NaN;

    public double FaultEnd { get; set; } = double.NaN;

    /// <summary>Largest thread-pool backlog of the harness seen by the sampler: non-zero for long means the harness itself is starved.</summary>
    public long MaxPoolQueue { get; private set; }

    public void Mark(double ms, string label)
    {
        lock (_lock)
        {
            Markers.Add(new Marker(Math.Round(ms / 1000, 2), label));
        }
    }

    public void Add(TimelinePoint point)
    {
        lock (_lock)
        {
            Points.Add(point);
        }
    }

    /// <summary>Samples every second until <paramref name="stop"/> is cancelled.</summary>
    public async Task SampleAsync(ScenarioClock clock, Func<(long Delivered, int Connected, long Acked, long Errors)> read, CancellationToken stop)
    {
        var last = read();
        var lastMs = clock.NowMs;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                var now = read();
                MaxPoolQueue = Math.Max(MaxPoolQueue, ThreadPool.PendingWorkItemCount);
                var ms = clock.NowMs;
                var dt = Math.Max(0.001, (ms - lastMs) / 1000);
                Add(new TimelinePoint(
                    Math.Round(ms / 1000, 1),
                    Math.Round((now.Delivered - last.Delivered) / dt),
                    now.Connected,
                    Math.Round((now.Acked - last.Acked) / dt),
                    Math.Round((now.Errors - last.Errors) / dt)));
                last = now;
                lastMs = ms;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Done.
        }
    }
}

/// <summary>One second of a scenario.</summary>
public readonly record struct TimelinePoint(double T, double Delivered, int Connected, double Acked, double Errors);

/// <summary>An event on the timeline (fault injected, node back, ...), at <paramref name="T"/> seconds.</summary>
public readonly record struct Marker(double T, string Label);
