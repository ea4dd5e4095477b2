using System.Text.RegularExpressions;
using Serilog.Core;
using Serilog.Events;

namespace Gateway.Operations.Logging;

/// <summary>
/// Last line of defence against secrets in logs: replaces properties whose name says they hold a secret
/// (token, API key, authorization header, password) and any string that looks like a JWT or a bearer
/// credential with a fixed marker. The host never logs secrets on purpose; this catches accidents such
/// as a header dump or a token pasted into a query string.
/// </summary>
internal sealed partial class SecretRedactionEnricher : ILogEventEnricher
{
    /// <summary>What a redacted value is replaced with.</summary>
    public const string Marker = "[redacted]";

    private static readonly ScalarValue MarkerValue = new(Marker);

    /// <inheritdoc />
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        List<LogEventProperty>? updates = null;
        foreach (var (name, value) in logEvent.Properties)
        {
            var redacted = IsSecretName(name) ? MarkerValue : Redact(value);
            if (!ReferenceEquals(redacted, value))
            {
                (updates ??= []).Add(new LogEventProperty(name, redacted));
            }
        }

        if (updates is not null)
        {
            foreach (var property in updates)
            {
                logEvent.AddOrUpdateProperty(property);
            }
        }
    }

    /// <summary>True when a property or field name says it carries a credential.</summary>
    public static bool IsSecretName(string name)
    {
        var n = name.Replace("_", "", StringComparison.Ordinal).Replace("-", "", StringComparison.Ordinal);
        return n.Equals("token", StringComparison.OrdinalIgnoreCase)
            || n.EndsWith("token", StringComparison.OrdinalIgnoreCase) && !n.EndsWith("resumetoken", StringComparison.OrdinalIgnoreCase)
            || n.Contains("apikey", StringComparison.OrdinalIgnoreCase)
            || n.Contains("password", StringComparison.OrdinalIgnoreCase)
            || n.Contains("secret", StringComparison.OrdinalIgnoreCase)
            || n.Equals("authorization", StringComparison.OrdinalIgnoreCase)
            || n.Equals("jwt", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Redacts credentials inside free text (JWTs, bearer and API-key headers).</summary>
    public static string RedactText(string text) =>
        text.Contains("eyJ", StringComparison.Ordinal) || text.Contains("earer", StringComparison.Ordinal) || text.Contains("api", StringComparison.OrdinalIgnoreCase)
            ? CredentialPattern().Replace(text, Marker)
            : text;

    private static LogEventPropertyValue Redact(LogEventPropertyValue value) => value switch
    {
        ScalarValue { Value: string s } => RedactScalar(value, s),
        SequenceValue sequence => RedactSequence(sequence),
        StructureValue structure => RedactStructure(structure),
        DictionaryValue dictionary => RedactDictionary(dictionary),
        _ => value,
    };

    private static LogEventPropertyValue RedactScalar(LogEventPropertyValue value, string text)
    {
        var redacted = RedactText(text);
        return ReferenceEquals(redacted, text) ? value : new ScalarValue(redacted);
    }

    private static LogEventPropertyValue RedactSequence(SequenceValue sequence)
    {
        var changed = false;
        var items = new LogEventPropertyValue[sequence.Elements.Count];
        for (var i = 0; i < items.Length; i++)
        {
            items[i] = Redact(sequence.Elements[i]);
            changed |= !ReferenceEquals(items[i], sequence.Elements[i]);
        }

        return changed ? new SequenceValue(items) : sequence;
    }

    private static LogEventPropertyValue RedactStructure(StructureValue structure)
    {
        var changed = false;
        var props = new LogEventProperty[structure.Properties.Count];
        for (var i = 0; i < props.Length; i++)
        {
            var p = structure.Properties[i];
            var v = IsSecretName(p.Name) ? MarkerValue : Redact(p.Value);
            changed |= !ReferenceEquals(v, p.Value);
            props[i] = ReferenceEquals(v, p.Value) ? p : new LogEventProperty(p.Name, v);
        }

        return changed ? new StructureValue(props, structure.TypeTag) : structure;
    }

    private static LogEventPropertyValue RedactDictionary(DictionaryValue dictionary)
    {
        var changed = false;
        var entries = new List<KeyValuePair<ScalarValue, LogEventPropertyValue>>(dictionary.Elements.Count);
        foreach (var (k, v) in dictionary.Elements)
        {
            var nv = k.Value is string key && IsSecretName(key) ? MarkerValue : Redact(v);
            changed |= !ReferenceEquals(nv, v);
            entries.Add(new(k, nv));
        }

        return changed ? new DictionaryValue(entries) : dictionary;
    }

    // A JWT (three base64url parts, header starting with '{"' = "eyJ"), or the value after
    // "Bearer " / "X-Api-Key:" / "api_key=" / "apikey=".
    [GeneratedRegex(@"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*|(?<=\b[Bb]earer\s+)[^\s,;""']+|(?<=\b(?i:x-api-key|api[_-]?key|apikey)\s*[:=]\s*)[^\s,;&""']+", RegexOptions.CultureInvariant)]
    private static partial Regex CredentialPattern();
}
