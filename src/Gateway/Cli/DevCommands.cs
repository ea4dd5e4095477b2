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
    /// <summary>The usage text (<c>gateway help</c>).</summary>
    public const string Usage = """
        gateway                         run the server (configuration: appsettings.json, Gateway__* env vars, --Gateway:X=Y)
        gateway token --user ID [--subscribe PATTERN]... [--publish PATTERN]... [--ttl 1h] [--dev-key-file PATH]
                                        print a JWT for a client (or a publisher with --publish), signed with the
                                        first HS256 key of Gateway:Auth:SigningKeys, or the Development key when none
                                        is configured (--dev-key-file: the dev key file, default ~/.archmesh/dev-keys.json)
        gateway apikey [--dev-key-file PATH]
                                        print the Development API key (header X-Api-Key)
        gateway keygen                  print a new HS256 signing secret (base64, 32 random bytes) for
                                        Gateway__Auth__SigningKeys__0__Secret
        gateway keygen --api-key        print a new API key (its SHA-256 for Gateway__Auth__ApiKeys__0__Sha256 goes to stderr)
        Every command also takes configuration overrides: --Gateway:Auth:Issuer=X, --Gateway:Auth:SigningKeys:0:Secret=...
        """;

    /// <summary>Runs a command when <paramref name="args"/> names one.</summary>
    /// <returns>False when the arguments are not a command (the server should start).</returns>
    public static bool TryRun(string[] args, TextWriter output, TextWriter error, out int exitCode)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        exitCode = 0;
        if (args.Length == 0)
        {
            return false;
        }

        Func<CommandLine, TextWriter, TextWriter, int>? command = args[0] switch
        {
            "token" => Token,
            "apikey" => ApiKey,
            "keygen" => KeyGen,
            _ => null,
        };
        if (args[0] is "help" or "--help" or "-h")
        {
            output.WriteLine(Usage);
            return true;
        }

        if (command is null)
        {
            return false;
        }

        try
        {
            exitCode = command(CommandLine.Parse(args[0], args[1..]), output, error);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException)
        {
            error.WriteLine($"{args[0]}: {e.Message}");
            error.WriteLine(Usage);
            exitCode = 2;
        }

        return true;
    }

    private static int Token(CommandLine line, TextWriter output, TextWriter error)
    {
        var user = line.Single("--user");
        var subscribe = line.All("--subscribe");
        var publish = line.All("--publish");
        var ttl = line.Single("--ttl") is { } text ? ParseDuration(text) : TimeSpan.FromHours(1);
        if (string.IsNullOrEmpty(user) && publish.Count == 0)
        {
            throw new ArgumentException("--user is required (or --publish for a publisher token).");
        }

        var options = LoadOptions(line);
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

    private static int ApiKey(CommandLine line, TextWriter output, TextWriter error)
    {
        var options = LoadOptions(line);
        var (dev, _) = DevKeys.LoadOrCreate(options.Auth.DevKeyFile);
        output.WriteLine(dev.ApiKey);
        error.WriteLine("(Development API key; production keys are configured as SHA-256 hashes in Gateway:Auth:ApiKeys: see `gateway keygen --api-key`.)");
        return 0;
    }

    private static int KeyGen(CommandLine line, TextWriter output, TextWriter error)
    {
        if (line.Flag("--api-key"))
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
    private static GatewayOptions LoadOptions(CommandLine line)
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
            .AddInMemoryCollection(line.Configuration);
        if (line.Single("--dev-key-file") is { } file)
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
