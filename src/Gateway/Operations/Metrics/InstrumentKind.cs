namespace Gateway.Operations.Metrics;

/// <summary>How a .NET instrument's measurements map onto a Prometheus metric type.</summary>
internal enum InstrumentKind
{
    /// <summary><c>Counter&lt;T&gt;</c>: each measurement is an increment → Prometheus counter.</summary>
    Counter,

    /// <summary><c>ObservableCounter&lt;T&gt;</c>: each measurement is the running total → Prometheus counter.</summary>
    ObservableCounter,

    /// <summary><c>UpDownCounter&lt;T&gt;</c>: each measurement is a delta → Prometheus gauge.</summary>
    UpDownCounter,

    /// <summary><c>ObservableGauge</c>, <c>ObservableUpDownCounter</c>, <c>Gauge</c>: the current value → Prometheus gauge.</summary>
    Gauge,

    /// <summary><c>Histogram&lt;T&gt;</c> → Prometheus histogram (and an HdrHistogram for the stats snapshots).</summary>
    Histogram,
}
