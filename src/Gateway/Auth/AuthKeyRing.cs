using System.Security.Cryptography;
using System.Text;
using Gateway.Configuration;
using Gateway.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Auth;

/// <summary>
/// The key material in force: configured signing keys and API key hashes, or in Development (when
/// none are configured) the generated dev keys. Built once at start.
/// </summary>
public sealed class AuthKeyRing
{
    private readonly (string Name, byte[] Hash)[] _apiKeys;

    /// <summary>Resolves the keys from configuration (and the dev key file in Development).</summary>
    public AuthKeyRing(IOptions<GatewayOptions> options, IHostEnvironment environment, ILogger<AuthKeyRing> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(environment);
        var auth = options.Value.Auth;
        var signing = auth.SigningKeys.Select(SigningKeys.Create).ToList();
        var apiKeys = auth.ApiKeys.Select(k => (k.Name, Convert.FromHexString(k.Sha256))).ToList();

        if (environment.IsDevelopment() && (signing.Count == 0 || apiKeys.Count == 0))
        {
            var (dev, created) = DevKeys.LoadOrCreate(auth.DevKeyFile);
            var path = string.IsNullOrWhiteSpace(auth.DevKeyFile) ? DevKeys.DefaultPath : auth.DevKeyFile;
            if (signing.Count == 0)
            {
                signing.Add(new SymmetricSecurityKey(Convert.FromBase64String(dev.Secret)) { KeyId = DevKeys.KeyId });
                UsesDevKeys = true;
            }

            if (apiKeys.Count == 0)
            {
                apiKeys.Add(("dev", SHA256.HashData(Encoding.UTF8.GetBytes(dev.ApiKey))));
                UsesDevKeys = true;
            }

            // Loud on purpose: a dev key in a real deployment would let anyone holding the file mint tokens.
            GatewayLog.DevKeysInUse(logger, path, created);
        }

        SigningKeysInUse = signing;
        _apiKeys = [.. apiKeys];
    }

    /// <summary>Whether the generated Development keys are in use.</summary>
    public bool UsesDevKeys { get; }

    /// <summary>Keys that validate tokens.</summary>
    public IReadOnlyList<SecurityKey> SigningKeysInUse { get; }

    /// <summary>
    /// Checks an API key against the stored hashes in constant time (per stored key), returning the
    /// key's name or null.
    /// </summary>
    public string? MatchApiKey(ReadOnlySpan<char> key)
    {
        if (key.IsEmpty || key.Length > 512)
        {
            return null;
        }

        Span<byte> utf8 = stackalloc byte[Encoding.UTF8.GetMaxByteCount(key.Length)];
        var length = Encoding.UTF8.GetBytes(key, utf8);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], hash);
        string? match = null;
        foreach (var (name, stored) in _apiKeys)
        {
            // No early exit: the time taken does not reveal which key (or how much of it) matched.
            if (CryptographicOperations.FixedTimeEquals(hash, stored))
            {
                match ??= name;
            }
        }

        return match;
    }
}
