using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Gateway.Protocol.Benchmarks;

/// <summary>Frame bytes processed per nanosecond (= GB/s), from the per-frame mean and the frame size.</summary>
public sealed class ThroughputColumn : IColumn
{
    public string Id => nameof(ThroughputColumn);

    public string ColumnName => "GB/s";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Encoded frame bytes per nanosecond (decimal GB/s)";

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        var payload = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == nameof(MessageCodecBenchmarks.PayloadSize))?.Value;
        if (report?.ResultStatistics is not { } stats || payload is not int size)
        {
            return "-";
        }

        // Mean is already per frame (OperationsPerInvoke divides batches by 16).
        return (MessageCodecBenchmarks.FrameSize(size) / stats.Mean).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);
    }
}
