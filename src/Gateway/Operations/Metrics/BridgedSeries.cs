using HdrHistogram;
using Prometheus;

namespace Gateway.Operations.Metrics;

/// <summary>
/// One label combination of a bridged instrument: the Prometheus child it updates and, for histograms,
/// an HdrHistogram recorder the stats collector reads interval histograms from.
/// </summary>
internal sealed class BridgedSeries
{
    /// <summary>Largest value (in microseconds) the interval recorders track: 100 s (larger values are clamped; Prometheus keeps them exactly).</summary>
    public const long MaxRecordedMicros = 100_000_000L;

    private readonly Counter.Child? _counter;
    private readonly Gauge.Child? _gauge;
    private readonly Histogram.Child? _histogram;

    public BridgedSeries(BridgedInstrument instrument, IReadOnlyList<string> labelValues, Counter.Child? counter, Gauge.Child? gauge, Histogram.Child? histogram)
    {
        Instrument = instrument;
        LabelValues = labelValues;
        _counter = counter;
        _gauge = gauge;
        _histogram = histogram;
        if (histogram is not null)
        {
            Recorder = HistogramFactory.With64BitBucketSize()
                .WithValuesFrom(1)
                .WithValuesUpTo(MaxRecordedMicros)
                .WithPrecisionOf(3)
                .WithThreadSafeWrites()
                .WithThreadSafeReads()
                .Create();
        }
    }

    /// <summary>The instrument this series belongs to.</summary>
    public BridgedInstrument Instrument { get; }

    /// <summary>Label values, in <see cref="BridgedInstrument.LabelNames"/> order.</summary>
    public IReadOnlyList<string> LabelValues { get; }

    /// <summary>Interval recorder of histogram values in microseconds (histograms with a time unit only).</summary>
    public Recorder? Recorder { get; }

    /// <summary>Counter total or gauge value, as Prometheus would export it now.</summary>
    public double Value => _counter?.Value ?? _gauge?.Value ?? _histogram?.Sum ?? 0;

    /// <summary>The label value for <paramref name="labelName"/>, or null when the series has no such label.</summary>
    public string? Label(string labelName)
    {
        for (var i = 0; i < Instrument.LabelNames.Count; i++)
        {
            if (Instrument.LabelNames[i] == labelName)
            {
                return LabelValues[i];
            }
        }

        return null;
    }

    /// <summary>Applies one measurement.</summary>
    public void Record(double value)
    {
        switch (Instrument.Kind)
        {
            case InstrumentKind.Counter:
                if (value > 0)
                {
                    _counter!.Inc(value);
                }

                break;
            case InstrumentKind.ObservableCounter:
                _counter!.IncTo(value);
                break;
            case InstrumentKind.UpDownCounter:
                _gauge!.Inc(value);
                break;
            case InstrumentKind.Gauge:
                _gauge!.Set(value);
                break;
            case InstrumentKind.Histogram:
                _histogram!.Observe(value);
                if (Recorder is not null)
                {
                    var micros = (long)(value * Instrument.MicrosPerUnit);
                    Recorder.RecordValue(Math.Clamp(micros, 1, MaxRecordedMicros));
                }

                break;
        }
    }
}
