using System.Diagnostics.Metrics;
using System.Text;

namespace Gateway.Operations.Metrics;

/// <summary>
/// Translates System.Diagnostics.Metrics instrument names (OpenTelemetry style: dots, UCUM units) into
/// Prometheus names: lowercase snake case, a unit suffix (<c>_seconds</c>, <c>_bytes</c>) and <c>_total</c>
/// on counters, following the OpenTelemetry → Prometheus compatibility rules.
/// </summary>
internal static class PrometheusNaming
{
    /// <summary>Builds the Prometheus metric name of an instrument.</summary>
    public static string MetricName(Instrument instrument, InstrumentKind kind)
    {
        var name = instrument.Name;

        // The gateway's own meters: make sure every series starts with "gateway_" so operators can
        // find them, whatever the instrument names look like.
        if (instrument.Meter.Name.StartsWith("Gateway.", StringComparison.Ordinal)
            && !name.StartsWith("gateway", StringComparison.OrdinalIgnoreCase))
        {
            name = "gateway." + name;
        }

        var result = Sanitize(name);
        var unit = UnitSuffix(instrument.Unit);
        if (unit is not null && !HasToken(result, unit))
        {
            result += "_" + unit;
        }

        if (kind is InstrumentKind.Counter or InstrumentKind.ObservableCounter && !result.EndsWith("_total", StringComparison.Ordinal))
        {
            result += "_total";
        }

        return result;
    }

    /// <summary>Builds a Prometheus label name from a tag key (<c>error.type</c> → <c>error_type</c>).</summary>
    public static string LabelName(string tagKey)
    {
        var label = Sanitize(tagKey);

        // Labels starting with "__" are reserved by Prometheus.
        return label.StartsWith("__", StringComparison.Ordinal) ? "tag" + label : label;
    }

    /// <summary>The Prometheus unit suffix for a UCUM unit, or null when the unit adds no suffix.</summary>
    public static string? UnitSuffix(string? unit) => unit switch
    {
        null or "" or "1" => null,
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        // Annotations such as "{connection}" carry no unit: drop them.
        _ when unit.StartsWith('{') => null,
        _ => Sanitize(unit),
    };

    private static bool HasToken(string name, string token) =>
        name == token
        || name.EndsWith("_" + token, StringComparison.Ordinal)
        || name.StartsWith(token + "_", StringComparison.Ordinal)
        || name.Contains("_" + token + "_", StringComparison.Ordinal);

    private static string Sanitize(string value)
    {
        var sb = new StringBuilder(value.Length + 8);
        var lastUnderscore = true;
        foreach (var c in value)
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                sb.Append(char.ToLowerInvariant(c));
                lastUnderscore = false;
            }
            else if (!lastUnderscore)
            {
                sb.Append('_');
                lastUnderscore = true;
            }
        }

        while (sb.Length > 0 && sb[^1] == '_')
        {
            sb.Length--;
        }

        if (sb.Length == 0 || char.IsAsciiDigit(sb[0]))
        {
            sb.Insert(0, '_');
        }

        return sb.ToString();
    }
}
