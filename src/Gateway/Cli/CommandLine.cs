using System.CommandLine;

namespace Gateway.Cli;

/// <summary>
/// The dev CLI's grammar on System.CommandLine: <c>token</c>, <c>apikey</c>, <c>keygen</c> and <c>--help</c>.
/// Configuration overrides (<c>--Section:Key=value</c> or <c>--Section:Key value</c>) are not options: they are the
/// tokens System.CommandLine does not match, read by <see cref="ConfigurationOverrides"/>, which refuses anything
/// else by name, so a mistyped option is never silently ignored.
/// </summary>
internal sealed class CommandLine
{
    /// <summary>The command line of the server and its commands.</summary>
    public CommandLine()
    {
        Token.Options.Add(User);
        Token.Options.Add(Subscribe);
        Token.Options.Add(Publish);
        Token.Options.Add(Ttl);
        Token.Options.Add(TokenDevKeyFile);
        ApiKey.Options.Add(ApiKeyDevKeyFile);
        KeyGen.Options.Add(KeyGenApiKey);
        // `gateway --version` would run the server (only the commands reach this parser): not offered.
        foreach (var version in Root.Options.OfType<VersionOption>().ToList())
        {
            Root.Options.Remove(version);
        }

        foreach (var command in new[] { Token, ApiKey, KeyGen })
        {
            command.TreatUnmatchedTokensAsErrors = false;
            Root.Subcommands.Add(command);
        }
    }

    /// <summary><c>gateway</c>: without a command it runs the server (not parsed here).</summary>
    public RootCommand Root { get; } = new("""
        ArchMesh gateway. Without a command it runs the server (configuration: appsettings.json, Gateway__* environment
        variables, --Gateway:X=Y). Every command also takes configuration overrides: --Gateway:Auth:Issuer=X,
        --Gateway:Auth:SigningKeys:0:Secret=...
        """);

    /// <summary><c>gateway token</c>.</summary>
    public Command Token { get; } = new("token", "Print a JWT for a client (or a publisher with --publish), signed with the first HS256 key of Gateway:Auth:SigningKeys, or the Development key when none is configured.");

    /// <summary><c>gateway apikey</c>.</summary>
    public Command ApiKey { get; } = new("apikey", "Print the Development API key (header X-Api-Key; scopes publish and admin).");

    /// <summary><c>gateway keygen</c>.</summary>
    public Command KeyGen { get; } = new("keygen", "Print a new HS256 signing secret (base64, 32 random bytes) for Gateway__Auth__SigningKeys__0__Secret, or with --api-key a new API key.");

    /// <summary><c>token --user</c>.</summary>
    public Option<string> User { get; } = new("--user", "-u") { Description = "The token's subject (user id); optional with --publish" };

    /// <summary><c>token --subscribe</c>, repeatable.</summary>
    public Option<List<string>> Subscribe { get; } = new("--subscribe", "-s") { Description = "A topic pattern the client may subscribe to (repeat for several; * = any run of characters)" };

    /// <summary><c>token --publish</c>, repeatable.</summary>
    public Option<List<string>> Publish { get; } = new("--publish", "-p") { Description = "A topic pattern the holder may publish to (repeat for several)" };

    /// <summary><c>token --ttl</c>.</summary>
    public Option<string> Ttl { get; } = new("--ttl") { Description = "Lifetime: 30s, 15m, 1h (default), 7d or a time span" };

    /// <summary><c>token --dev-key-file</c>.</summary>
    public Option<string> TokenDevKeyFile { get; } = DevKeyFile();

    /// <summary><c>apikey --dev-key-file</c>.</summary>
    public Option<string> ApiKeyDevKeyFile { get; } = DevKeyFile();

    /// <summary><c>keygen --api-key</c>.</summary>
    public Option<bool> KeyGenApiKey { get; } = new("--api-key") { Description = "Print a new API key instead (its SHA-256 for Gateway__Auth__ApiKeys__0__Sha256 goes to stderr)" };

    /// <summary>
    /// Reads the tokens no option matched as configuration overrides: <c>--Section:Key=value</c>,
    /// <c>--Section:Key value</c> or <c>/Section:Key value</c>.
    /// </summary>
    /// <exception cref="ArgumentException">A token that is not an override, or an override without a value (the message names it).</exception>
    public static Dictionary<string, string?> ConfigurationOverrides(IReadOnlyList<string> tokens)
    {
        var configuration = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < tokens.Count; i++)
        {
            var arg = tokens[i];
            var key = arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..] : arg.StartsWith('/') ? arg[1..] : null;
            if (key is null || !key.Contains(':', StringComparison.Ordinal))
            {
                throw new ArgumentException($"unknown argument '{arg}'.");
            }

            var equals = key.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0)
            {
                configuration[key[..equals]] = key[(equals + 1)..];
            }
            else
            {
                configuration[key] = i + 1 < tokens.Count ? tokens[++i] : throw new ArgumentException($"{arg} needs a value.");
            }
        }

        return configuration;
    }

    private static Option<string> DevKeyFile() => new("--dev-key-file") { Description = "The Development key file (default ~/.archmesh/dev-keys.json), as the server's Gateway:Auth:DevKeyFile" };
}
