using System.Diagnostics;

namespace Chaos;

/// <summary>Milliseconds since the start of a scenario (monotonic).</summary>
public sealed class ScenarioClock
{
    private readonly long _start = Stopwatch.GetTimestamp();

    public double NowMs => Stopwatch.GetElapsedTime(_start).TotalMilliseconds;
}
