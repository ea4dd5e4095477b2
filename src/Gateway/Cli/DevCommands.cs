using System.Globalization;
using Gateway.Auth;
using Gateway.Configuration;
using Microsoft.Extensions.Configuration;

namespace Gateway.Cli;

/// <summary>
/// Developer commands run instead of the server:
/// <c>gateway token --user alice [--subscribe 'workflow:*']... [--publish 'team:*']... [--ttl 1h]</c>
/// prints a JWT signed with the first configured HS256 key (or the Development key), and
/// <c>gateway apikey</c> prints the Development API key.
/// </summary>
public static class DevCommands
{
    /// <summary>Runs a command when <paramref name="args"/> names one.</summary>
    /// <returns>False when the arguments are not a command (the server should start).</returns>
    public static bool TryRun(string[] args, TextWriter output, TextWriter error, out int exitCode)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        exitCode = 0;
        switch (args[0])
        {
            case "token":
                exitCode = Token(args[1..], output, error);
                return true;
            case "apikey":
                exitCode = ApiKey(args[1..], output, error);
                return true;
            case "help" or "--help" or "-h":
                output.WriteLine(Usage);
                return true;
            default:
                return false;
        }
    }

    private const string Usage = """
        gateway                         run the server (configuration: appsettings.json, Gateway__* env vars, --Gateway:X=Y)
        gateway token --user ID [--subscribe PATTERN]... [--publish PATTERN]... [--ttl 1h] [--config-key-file PATH]
                                        print a JWT for a client (or a publisher with --publish)
        gateway apikey                  print the Development API key (header X-Api-Key)
        """;

    private static int Token(string[] args, TextWriter output, TextWriter error)
    {
        string? user = null;
        var subscribe = new List<string>();
        var publish = new List<string>();
        var ttl = TimeSpan.FromHours(1);
        var rest = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            try
            {
                switch (args[i])
                {
                    case "--user" or "-u":
                        user = Next();
                        break;
                    case "--subscribe" or "-s":
                        subscribe.Add(Next());
                        break;
                    case "--publish" or "-p":
                        publish.Add(Next());
                        break;
                    case "--ttl":
                        ttl = ParseDuration(Next());
                        break;
                    default:
                        rest.Add(args[i]);
                        break;
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                error.WriteLine(e.Message);
                return 2;
            }
        }

        if (string.IsNullOrEmpty(user) && publish.Count == 0)
        {
            error.WriteLine("token: --user is required (or --publish for a publisher token).\n" + Usage);
            return 2;
        }

        var options = LoadOptions([.. rest]);
        var key = options.Auth.SigningKeys.FirstOrDefault(k => k.Algorithm == "HS256" && !string.IsNullOrEmpty(k.Secret));
        byte[] secret;
        string keyId;
        if (key is not null)
        {
            secret = Convert.FromBase64String(key.Secret!);
            keyId = key.Id ?? "";
        }
        else
        {
            // Same file the Development server uses, so the token is accepted by `dotnet run`.
            var (dev, _) = DevKeys.LoadOrCreate(options.Auth.DevKeyFile);
            secret = Convert.FromBase64String(dev.Secret);
            keyId = DevKeys.KeyId;
        }

        output.WriteLine(TokenMinter.Mint(secret, options.Auth.Issuer, options.Auth.Audience, user ?? "", subscribe, publish, ttl, keyId.Length == 0 ? null : keyId));
        return 0;
    }

    private static int ApiKey(string[] args, TextWriter output, TextWriter error)
    {
        var options = LoadOptions(args);
        var (dev, _) = DevKeys.LoadOrCreate(options.Auth.DevKeyFile);
        output.WriteLine(dev.ApiKey);
        error.WriteLine("(Development API key; production keys are configured as SHA-256 hashes in Gateway:Auth:ApiKeys.)");
        return 0;
    }

    private static GatewayOptions LoadOptions(string[] args)
    {
        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddJsonFile("appsettings.Development.json", optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(args)
            .Build();
        var options = new GatewayOptions();
        configuration.GetSection(GatewayOptions.SectionName).Bind(options);
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
