using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Prometheus;

namespace Gateway.Operations.Metrics;

/// <summary>
/// The bridge's state for one .NET instrument: its Prometheus metric (created on the first measurement,
/// when the label names become known) and one <see cref="BridgedSeries"/> per label combination.
/// </summary>
internal sealed class BridgedInstrument
{
    private readonly IMetricFactory _factory;
    private readonly Func<Instrument, double[]> _buckets;
    private readonly ConcurrentDictionary<TagKey, BridgedSeries> _series = new();
    private readonly Lock _createLock = new();
    private volatile string[]? _labelNames;
    private volatile string[]? _tagKeys;
    private Collector? _metric;
    private volatile bool _broken;

    public BridgedInstrument(Instrument instrument, InstrumentKind kind, IMetricFactory factory, Func<Instrument, double[]> buckets)
    {
        Instrument = instrument;
        Kind = kind;
        _factory = factory;
        _buckets = buckets;
        Name = PrometheusNaming.MetricName(instrument, kind);
        MicrosPerUnit = instrument.Unit switch
        {
            "s" => 1_000_000,
            "ms" => 1_000,
            "us" => 1,
            _ => 0,
        };
    }

    /// <summary>The .NET instrument.</summary>
    public Instrument Instrument { get; }

    /// <summary>How measurements map to Prometheus.</summary>
    public InstrumentKind Kind { get; }

    /// <summary>The exported Prometheus name.</summary>
    public string Name { get; }

    /// <summary>Conversion factor to microseconds for time histograms; 0 when the unit is not a time.</summary>
    public double MicrosPerUnit { get; }

    /// <summary>Prometheus label names (empty until the first measurement).</summary>
    public IReadOnlyList<string> LabelNames => _labelNames ?? [];

    /// <summary>The series seen so far.</summary>
    public ICollection<BridgedSeries> Series => _series.Values;

    /// <summary>Applies one measurement. Allocation-free once the label combination has been seen.</summary>
    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_broken)
        {
            return;
        }

        var tagKeys = _tagKeys ?? Initialize(tags);
        if (tagKeys is null)
        {
            return;
        }

        // Place each tag in its fixed slot; tags that were not present on the first measurement are dropped,
        // because a Prometheus metric has one fixed set of label names.
        var key = default(TagKey);
        foreach (var tag in tags)
        {
            for (var i = 0; i < tagKeys.Length; i++)
            {
                if (string.Equals(tagKeys[i], tag.Key, StringComparison.Ordinal))
                {
                    key = key.With(i, tag.Value);
                    break;
                }
            }
        }

        if (!_series.TryGetValue(key, out var series))
        {
            series = CreateSeries(key, tagKeys.Length);
            if (series is null)
            {
                return;
            }
        }

        series.Record(value);
    }

    private string[]? Initialize(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        lock (_createLock)
        {
            if (_tagKeys is not null)
            {
                return _tagKeys;
            }

            var keys = new List<string>(tags.Length);
            foreach (var tag in tags)
            {
                if (keys.Count < TagKey.MaxLabels && !keys.Contains(tag.Key))
                {
                    keys.Add(tag.Key);
                }
            }

            keys.Sort(StringComparer.Ordinal);
            var labels = keys.Select(PrometheusNaming.LabelName).ToArray();
            try
            {
                // No exemplars: prometheus-net would otherwise look up the trace context and record an exemplar on
                // every observation, which profiling showed costing more than the WebSocket send on the write path.
                _metric = Kind switch
                {
                    InstrumentKind.Counter or InstrumentKind.ObservableCounter =>
                        _factory.CreateCounter(Name, Help(), new CounterConfiguration { LabelNames = labels, ExemplarBehavior = ExemplarBehavior.NoExemplars() }),
                    InstrumentKind.Histogram =>
                        _factory.CreateHistogram(Name, Help(), new HistogramConfiguration { LabelNames = labels, Buckets = _buckets(Instrument), ExemplarBehavior = ExemplarBehavior.NoExemplars() }),
                    _ => _factory.CreateGauge(Name, Help(), new GaugeConfiguration { LabelNames = labels }),
                };
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
                // A name clash with another collector (e.g. two instruments translating to the same name
                // with different labels): skip this instrument rather than break the scrape.
                _broken = true;
                return null;
            }

            _labelNames = labels;
            _tagKeys = [.. keys];
            return _tagKeys;
        }
    }

    private BridgedSeries? CreateSeries(TagKey key, int labelCount)
    {
        lock (_createLock)
        {
            if (_series.TryGetValue(key, out var existing))
            {
                return existing;
            }

            var values = new string[labelCount];
            for (var i = 0; i < labelCount; i++)
            {
                values[i] = Format(key.Get(i));
            }

            BridgedSeries series = _metric switch
            {
                Counter c => new BridgedSeries(this, values, c.WithLabels(values), null, null),
                Histogram h => new BridgedSeries(this, values, null, null, h.WithLabels(values)),
                Gauge g => new BridgedSeries(this, values, null, g.WithLabels(values), null),
                _ => throw new InvalidOperationException("Unexpected collector type."),
            };
            _series[key] = series;
            return series;
        }
    }

    private static string Format(object? value) => value switch
    {
        null => "",
        string s => s,
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private string Help()
    {
        var description = string.IsNullOrWhiteSpace(Instrument.Description) ? Instrument.Name : Instrument.Description;
        return $"{description} (meter {Instrument.Meter.Name}, instrument {Instrument.Name}{(string.IsNullOrEmpty(Instrument.Unit) ? "" : ", unit " + Instrument.Unit)})";
    }
}
