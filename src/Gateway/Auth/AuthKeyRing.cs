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
    private readonly (string Name, byte[] Hash, ApiScopes Scopes)[] _apiKeys;

    /// <summary>Resolves the keys from configuration (and the dev key file in Development).</summary>
    public AuthKeyRing(IOptions<GatewayOptions> options, IHostEnvironment environment, ILogger<AuthKeyRing> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(environment);
        var auth = options.Value.Auth;
        var signing = auth.SigningKeys.Select(SigningKeys.Create).ToList();
        var apiKeys = auth.ApiKeys.Select(k => (k.Name, Convert.FromHexString(k.Sha256), ParseScopes(k.Scopes) ?? ApiScopes.None)).ToList();

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
                // The dev key may do everything (publish, drain, operations endpoints): it is the developer's own.
                apiKeys.Add(("dev", SHA256.HashData(Encoding.UTF8.GetBytes(dev.ApiKey)), ApiScopes.Publish | ApiScopes.Admin));
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
    /// Parses <c>Gateway:Auth:ApiKeys:N:Scopes</c>: none = publish and admin (the rights of every key before
    /// scopes existed); null when an entry is not a scope name.
    /// </summary>
    public static ApiScopes? ParseScopes(IEnumerable<string>? scopes)
    {
        var result = ApiScopes.None;
        foreach (var scope in scopes ?? [])
        {
            foreach (var name in scope.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (name.Equals("publish", StringComparison.OrdinalIgnoreCase))
                {
                    result |= ApiScopes.Publish;
                }
                else if (name.Equals("admin", StringComparison.OrdinalIgnoreCase))
                {
                    result |= ApiScopes.Admin;
                }
                else
                {
                    return null;
                }
            }
        }

        return result == ApiScopes.None ? ApiScopes.Publish | ApiScopes.Admin : result;
    }

    /// <summary>
    /// Checks an API key against the stored hashes in constant time (per stored key), returning the
    /// key's name or null.
    /// </summary>
    public string? MatchApiKey(ReadOnlySpan<char> key) => Match(key).Name;

    /// <summary>
    /// Checks an API key against the stored hashes in constant time (per stored key), returning the
    /// key's name and scopes, or a null name.
    /// </summary>
    public (string? Name, ApiScopes Scopes) Match(ReadOnlySpan<char> key)
    {
        if (key.IsEmpty || key.Length > 512)
        {
            return (null, ApiScopes.None);
        }

        Span<byte> utf8 = stackalloc byte[Encoding.UTF8.GetMaxByteCount(key.Length)];
        var length = Encoding.UTF8.GetBytes(key, utf8);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], hash);
        string? match = null;
        var matchScopes = ApiScopes.None;
        foreach (var (name, stored, scopes) in _apiKeys)
        {
            // No early exit: the time taken does not reveal which key (or how much of it) matched.
            if (CryptographicOperations.FixedTimeEquals(hash, stored) && match is null)
            {
                match = name;
                matchScopes = scopes;
            }
        }

        return (match, matchScopes);
    }
}
