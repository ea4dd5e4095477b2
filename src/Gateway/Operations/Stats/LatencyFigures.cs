using HdrHistogram;

namespace Gateway.Operations.Stats;

/// <summary>Latency percentiles over one interval, in milliseconds.</summary>
internal sealed record LatencyFigures(long Count, double P50Ms, double P90Ms, double P99Ms, double MaxMs)
{
    /// <summary>No samples.</summary>
    public static readonly LatencyFigures Empty = new(0, 0, 0, 0, 0);

    /// <summary>Reads the percentiles of a histogram of microsecond values.</summary>
    public static LatencyFigures From(HistogramBase histogram)
    {
        var count = histogram.TotalCount;
        if (count == 0)
        {
            return Empty;
        }

        return new LatencyFigures(
            count,
            Ms(histogram.GetValueAtPercentile(50)),
            Ms(histogram.GetValueAtPercentile(90)),
            Ms(histogram.GetValueAtPercentile(99)),
            Ms(histogram.GetMaxValue()));
    }

    private static double Ms(long micros) => Math.Round(micros / 1000.0, 3);
}
