using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using Gateway.Auth;
using Gateway.Configuration;
using Gateway.Hosting;
using Microsoft.Extensions.Configuration;

namespace Gateway.Cli;

/// <summary>
/// Commands run instead of the server:
/// <c>gateway token --user alice [--subscribe 'workflow:*']... [--publish 'team:*']... [--ttl 1h]</c>
/// prints a JWT signed with the first configured HS256 key, or with the Development key when no key is
/// configured; <c>gateway apikey</c> prints the Development API key; <c>gateway keygen</c> prints a new
/// signing secret (or, with <c>--api-key</c>, a new API key) for a production configuration.
/// Configuration is read like the server reads it: appsettings, <c>Gateway__*</c> environment variables,
/// <c>--Gateway:X=Y</c> arguments.
/// </summary>
public static class DevCommands
{
    private static readonly string[] Commands = ["token", "apikey", "keygen", "help", "--help", "-h", "-?"];

    /// <summary>Runs a command when <paramref name="args"/> names one (System.CommandLine parses it).</summary>
    /// <returns>False when the arguments are not a command (the server should start).</returns>
    public static bool TryRun(string[] args, TextWriter output, TextWriter error, out int exitCode)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        exitCode = 0;
        if (args.Length == 0 || !Commands.Contains(args[0], StringComparer.Ordinal))
        {
            return false;
        }

        if (args[0] == "help")
        {
            args = ["--help", .. args[1..]];
        }

        var line = new CommandLine();
        line.Token.SetAction(result => Token(line, result, output));
        line.ApiKey.SetAction(result => ApiKey(line, result, output, error));
        line.KeyGen.SetAction(result => KeyGen(line, result, output, error));

        // No response files: an argument starting with '@' is a value like any other.
        var parse = line.Root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parse.Errors.Count > 0)
        {
            foreach (var problem in parse.Errors)
            {
                error.WriteLine($"{args[0]}: {problem.Message}");
            }

            error.WriteLine($"Run 'gateway {args[0]} --help' for usage.");
            exitCode = 2;
            return true;
        }

        try
        {
            exitCode = parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException)
        {
            error.WriteLine($"{args[0]}: {e.Message}");
            error.WriteLine($"Run 'gateway {args[0]} --help' for usage.");
            exitCode = 2;
        }

        return true;
    }

    private static int Token(CommandLine line, ParseResult result, TextWriter output)
    {
        var user = result.GetValue(line.User);
        var subscribe = result.GetValue(line.Subscribe) ?? [];
        var publish = result.GetValue(line.Publish) ?? [];
        var ttl = result.GetValue(line.Ttl) is { } text ? ParseDuration(text) : TimeSpan.FromHours(1);
        if (string.IsNullOrEmpty(user) && publish.Count == 0)
        {
            throw new ArgumentException("--user is required (or --publish for a publisher token).");
        }

        var options = LoadOptions(result, result.GetValue(line.TokenDevKeyFile));
        byte[] secret;
        string? keyId;
        if (options.Auth.SigningKeys.Count > 0)
        {
            // Sign with the key the gateway validates with, or the token would be refused.
            var key = options.Auth.SigningKeys.FirstOrDefault(k => k.Algorithm == "HS256")
                ?? throw new InvalidOperationException(
                    "Gateway:Auth:SigningKeys holds only public keys (RS256/ES256): tokens for them are signed by whoever holds the private key (your identity provider); this command signs HS256 only.");
            if (SigningKeys.Check(key) is { } problem)
            {
                throw new InvalidOperationException($"Gateway:Auth:SigningKeys: {problem}");
            }

            secret = Convert.FromBase64String(key.Secret!);
            keyId = string.IsNullOrEmpty(key.Id) ? null : key.Id;
        }
        else
        {
            // Same file the Development server uses, so the token is accepted by `dotnet run`.
            var (dev, _) = DevKeys.LoadOrCreate(options.Auth.DevKeyFile);
            secret = Convert.FromBase64String(dev.Secret);
            keyId = DevKeys.KeyId;
        }

        output.WriteLine(TokenMinter.Mint(secret, options.Auth.Issuer, options.Auth.Audience, user ?? "", subscribe, publish, ttl, keyId));
        return 0;
    }

    private static int ApiKey(CommandLine line, ParseResult result, TextWriter output, TextWriter error)
    {
        var options = LoadOptions(result, result.GetValue(line.ApiKeyDevKeyFile));
        var (dev, _) = DevKeys.LoadOrCreate(options.Auth.DevKeyFile);
        output.WriteLine(dev.ApiKey);
        error.WriteLine("(Development API key; production keys are configured as SHA-256 hashes in Gateway:Auth:ApiKeys: see `gateway keygen --api-key`.)");
        return 0;
    }

    private static int KeyGen(CommandLine line, ParseResult result, TextWriter output, TextWriter error)
    {
        // keygen reads no configuration, but an unknown argument is still refused by name.
        _ = CommandLine.ConfigurationOverrides(result.UnmatchedTokens);
        if (result.GetValue(line.KeyGenApiKey))
        {
            var key = "ak_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
            output.WriteLine(key);
            error.WriteLine($"sha256: {Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)))}  (the gateway stores only this: Gateway__Auth__ApiKeys__0__Sha256)");
            return 0;
        }

        output.WriteLine(Convert.ToBase64String(RandomNumberGenerator.GetBytes(SigningKeys.MinimumSecretBytes)));
        return 0;
    }

    /// <summary>Reads configuration the way the server does (same files, variables and overrides).</summary>
    private static GatewayOptions LoadOptions(ParseResult result, string? devKeyFile)
    {
        var environment = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT")
            ?? Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT")
            ?? LaunchEnvironment.Resolve([], Environment.GetEnvironmentVariable)
            ?? "Production";
        var builder = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddJsonFile($"appsettings.{environment}.json", optional: true)
            .AddEnvironmentVariables()
            .AddInMemoryCollection(CommandLine.ConfigurationOverrides(result.UnmatchedTokens));
        if (devKeyFile is { } file)
        {
            builder.AddInMemoryCollection([new(GatewayOptions.SectionName + ":Auth:DevKeyFile", file)]);
        }

        var options = new GatewayOptions();
        builder.Build().GetSection(GatewayOptions.SectionName).Bind(options);
        return options;
    }

    private static TimeSpan ParseDuration(string value)
    {
        if (value.Length > 1 && char.IsLetter(value[^1]) && double.TryParse(value[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount))
        {
            return value[^1] switch
            {
                's' => TimeSpan.FromSeconds(amount),
                'm' => TimeSpan.FromMinutes(amount),
                'h' => TimeSpan.FromHours(amount),
                'd' => TimeSpan.FromDays(amount),
                _ => throw new FormatException($"--ttl '{value}': use e.g. 30s, 15m, 1h, 7d."),
            };
        }

        return TimeSpan.Parse(value, CultureInfo.InvariantCulture);
    }
}
