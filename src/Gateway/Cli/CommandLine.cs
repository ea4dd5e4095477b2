namespace Gateway.Cli;

/// <summary>
/// The parsed arguments of one command: its own options, and configuration overrides
/// (<c>--Section:Key=value</c> or <c>--Section:Key value</c>). Anything else is refused by name, so a
/// mistyped option is never silently ignored.
/// </summary>
internal sealed class CommandLine
{
    private static readonly Dictionary<string, Dictionary<string, (string Name, bool TakesValue)>> Commands = new(StringComparer.Ordinal)
    {
        ["token"] = Options(("--user", "-u", true), ("--subscribe", "-s", true), ("--publish", "-p", true), ("--ttl", null, true), ("--dev-key-file", null, true)),
        ["apikey"] = Options(("--dev-key-file", null, true)),
        ["keygen"] = Options(("--api-key", null, false)),
    };

    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);

    /// <summary>Configuration overrides given on the command line.</summary>
    public Dictionary<string, string?> Configuration { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Parses <paramref name="args"/> for <paramref name="command"/>.</summary>
    /// <exception cref="ArgumentException">An unknown option or a missing value (the message names it).</exception>
    public static CommandLine Parse(string command, string[] args)
    {
        var known = Commands[command];
        var line = new CommandLine();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (known.TryGetValue(arg, out var option))
            {
                var value = option.TakesValue
                    ? (i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{arg} needs a value."))
                    : "true";
                line.Add(option.Name, value);
                continue;
            }

            // Configuration keys are sections: --Gateway:Auth:Issuer=x or --Gateway:Auth:Issuer x.
            var key = arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..] : arg.StartsWith('/') ? arg[1..] : null;
            if (key is not null && key.Contains(':', StringComparison.Ordinal))
            {
                var equals = key.IndexOf('=', StringComparison.Ordinal);
                if (equals >= 0)
                {
                    line.Configuration[key[..equals]] = key[(equals + 1)..];
                }
                else
                {
                    line.Configuration[key] = i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{arg} needs a value.");
                }

                continue;
            }

            throw new ArgumentException($"unknown argument '{arg}'.");
        }

        return line;
    }

    /// <summary>The last value of an option, or null.</summary>
    public string? Single(string name) => _values.TryGetValue(name, out var values) ? values[^1] : null;

    /// <summary>Every value of a repeatable option.</summary>
    public List<string> All(string name) => _values.TryGetValue(name, out var values) ? values : [];

    /// <summary>Whether a flag was given.</summary>
    public bool Flag(string name) => _values.ContainsKey(name);

    private void Add(string name, string value)
    {
        if (!_values.TryGetValue(name, out var values))
        {
            _values[name] = values = [];
        }

        values.Add(value);
    }

    private static Dictionary<string, (string Name, bool TakesValue)> Options(params (string Name, string? Alias, bool TakesValue)[] options)
    {
        var map = new Dictionary<string, (string, bool)>(StringComparer.Ordinal);
        foreach (var (name, alias, takesValue) in options)
        {
            map[name] = (name, takesValue);
            if (alias is not null)
            {
                map[alias] = (name, takesValue);
            }
        }

        return map;
    }
}
