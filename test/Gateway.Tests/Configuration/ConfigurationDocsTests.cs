using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Gateway.Configuration;
using Gateway.Dispatch;
using Gateway.Tests.Shared;

namespace Gateway.Tests.Configuration;

/// <summary>
/// docs/configuration.md is the reference of every setting the options classes bind: each leaf key has exactly one
/// table row, that row shows the default the code has, and no row names a key nothing reads; docs/security.md's
/// limits table shows the same defaults. A new setting cannot ship undocumented, and a renamed key or a changed
/// default cannot leave either document stale.
/// </summary>
public sealed partial class ConfigurationDocsTests
{
    /// <summary>Where each options class is bound (GatewayApp, ApiSecurity).</summary>
    private static readonly (string Section, Type Type)[] Roots =
    [
        (GatewayOptions.SectionName, typeof(GatewayOptions)),
        (GatewayOptions.SectionName + ":Dispatch", typeof(DispatcherOptions)),
        (ManagementOptions.SectionName, typeof(ManagementOptions)),
    ];

    /// <summary>Defaults that depend on the machine (documented in words, not as a value).</summary>
    private static readonly HashSet<string> MachineDefaults = ["Gateway:Dispatch:NodeId", "Gateway:Dispatch:WorkerCount"];

    /// <summary>Sections read from <c>IConfiguration</c> by hand rather than through an options class (docs/operations.md owns them).</summary>
    private static readonly string[] ReadByHand = ["Gateway:Stats:", "Gateway:Health:", "Gateway:Logging:"];

    [Fact]
    public void Every_options_class_is_bound_under_a_known_section()
    {
        var reached = new HashSet<Type>();
        foreach (var (section, type) in Roots)
        {
            Walk(section, type, Activator.CreateInstance(type), [], reached);
        }

        var optionsTypes = new[] { typeof(GatewayOptions).Assembly, typeof(DispatcherOptions).Assembly }
            .SelectMany(a => a.GetExportedTypes())
            .Where(t => IsOptionsType(t) && t.Name.EndsWith("Options", StringComparison.Ordinal));
        Assert.Empty(optionsTypes.Where(t => !reached.Contains(t)).Select(t => t.FullName));
    }

    [Fact]
    public void Every_setting_is_documented_once_with_its_default()
    {
        var settings = Settings();
        var rows = DocumentedRows(File.ReadAllLines(Path.Combine(TestRepository.Root, "docs", "configuration.md")));
        var failures = new List<string>();

        foreach (var setting in settings)
        {
            var documented = rows.Where(r => r.Key == setting.Key).ToList();
            if (documented.Count != 1)
            {
                failures.Add($"{setting.Key}: {documented.Count} table rows in docs/configuration.md (expected exactly one){Lines(documented)}.");
                continue;
            }

            var expected = FormatDefault(setting);
            if (expected is not null && documented[0].Default != expected)
            {
                failures.Add($"{setting.Key}: the default cell shows '{documented[0].Default}' but the code's default is `{expected}` (line {documented[0].Line}).");
            }
        }

        var known = settings.Select(s => s.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var row in rows.Where(r => !known.Contains(r.Key) && !ReadByHand.Any(p => r.Key.StartsWith(p, StringComparison.Ordinal))))
        {
            failures.Add($"{row.Key} (line {row.Line}) is documented but no options class binds it.");
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public void Security_limits_show_the_code_defaults()
    {
        // docs/security.md summarises the security-relevant limits with their defaults; they must not drift from the code.
        var settings = Settings().ToDictionary(s => s.Key, StringComparer.Ordinal);
        var rows = DocumentedRows(File.ReadAllLines(Path.Combine(TestRepository.Root, "docs", "security.md")));
        var failures = new List<string>();
        foreach (var row in rows)
        {
            if (!settings.TryGetValue(row.Key, out var setting))
            {
                failures.Add($"{row.Key} (docs/security.md line {row.Line}) is not a setting any options class binds.");
            }
            else if (FormatDefault(setting) is { } expected && row.Default != expected)
            {
                failures.Add($"{row.Key}: docs/security.md line {row.Line} shows '{row.Default}' but the code's default is `{expected}`.");
            }
        }

        Assert.NotEmpty(rows);
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    private static string Lines(List<DocumentedRow> rows) =>
        rows.Count == 0 ? "" : " at lines " + string.Join(", ", rows.Select(r => r.Line.ToString(CultureInfo.InvariantCulture)));

    private static List<Setting> Settings()
    {
        var settings = new List<Setting>();
        foreach (var (section, type) in Roots)
        {
            Walk(section, type, Activator.CreateInstance(type), settings, []);
        }

        return settings;
    }

    /// <summary>Collects the leaf keys the configuration binder fills (public settable properties), with their defaults.</summary>
    private static void Walk(string path, Type type, object? instance, List<Setting> into, HashSet<Type> reached)
    {
        reached.Add(type);
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetSetMethod() is null || property.GetIndexParameters().Length != 0)
            {
                continue; // computed (HasListener, EffectiveFrameTimeout, ...): not bound
            }

            var key = path + ":" + property.Name;
            var propertyType = property.PropertyType;
            if (IsOptionsType(propertyType))
            {
                Walk(key, propertyType, property.GetValue(instance) ?? Activator.CreateInstance(propertyType), into, reached);
            }
            else if (propertyType.IsGenericType && propertyType.GetGenericTypeDefinition() == typeof(List<>))
            {
                var element = propertyType.GetGenericArguments()[0];
                if (IsOptionsType(element))
                {
                    // Bound as Key:0:Child, Key:1:Child, ...; documented as Key:N:Child with the element's defaults.
                    Walk(key + ":N", element, Activator.CreateInstance(element), into, reached);
                }
                else
                {
                    into.Add(new Setting(key, null)); // Key:0, Key:1, ...: documented as Key or Key:N
                }
            }
            else
            {
                into.Add(new Setting(key, property.GetValue(instance)));
            }
        }
    }

    private static bool IsOptionsType(Type type) =>
        type.IsClass && type != typeof(string) && type.Namespace is "Gateway.Configuration" or "Gateway.Dispatch";

    /// <summary>The default as the tables write it (first code span of the Default cell), or null when it is not a value.</summary>
    private static string? FormatDefault(Setting setting) => MachineDefaults.Contains(setting.Key) ? null : setting.Default switch
    {
        null or "" => null,
        bool value => value ? "true" : "false",
        TimeSpan value => value.ToString("c", CultureInfo.InvariantCulture),
        IFormattable value => value.ToString(null, CultureInfo.InvariantCulture),
        var value => value.ToString(),
    };

    /// <summary>
    /// Table rows of the document: a key written in full (<c>Gateway:X:Y</c>) or relative to the section heading that
    /// names its prefix in a code span (<c>## Limits (`Gateway:Limits`)</c>); a trailing <c>:N</c> list index dropped.
    /// </summary>
    private static List<DocumentedRow> DocumentedRows(string[] lines)
    {
        var rows = new List<DocumentedRow>();
        string? prefix = null;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.StartsWith('#'))
            {
                var section = SectionPrefix().Match(line);
                prefix = section.Success ? section.Groups[1].Value : null;
                continue;
            }

            if (!line.StartsWith('|'))
            {
                continue;
            }

            var cells = CellSeparator().Split(line.Trim().Trim('|'));
            if (cells.Length < 2 || cells[0].Trim() is "Key" || cells[0].TrimStart().StartsWith("---", StringComparison.Ordinal))
            {
                continue;
            }

            var defaultSpan = CodeSpan().Match(cells[1]);
            var defaultText = defaultSpan.Success ? defaultSpan.Groups[1].Value : cells[1].Trim();
            foreach (Match span in CodeSpan().Matches(cells[0]))
            {
                var token = span.Groups[1].Value;
                var key = token.StartsWith("Gateway:", StringComparison.Ordinal) ? token : prefix is null ? null : prefix + ":" + token;
                if (key is not null)
                {
                    rows.Add(new DocumentedRow(key.EndsWith(":N", StringComparison.Ordinal) ? key[..^2] : key, defaultText, i + 1));
                }
            }
        }

        return rows;
    }

    [GeneratedRegex("`(Gateway(?::[A-Za-z]+)+)`")]
    private static partial Regex SectionPrefix();

    [GeneratedRegex(@"(?<!\\)\|")]
    private static partial Regex CellSeparator();

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex CodeSpan();

    private sealed record Setting(string Key, object? Default);

    private sealed record DocumentedRow(string Key, string Default, int Line);
}
