using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Chaos;

/// <summary>
/// Mints HS256 tokens with the cluster's dev signing key (the file <c>Gateway__Auth__DevKeyFile</c> points
/// to), in the claim format of src/Gateway/Auth/TokenMinter.cs: issuer <c>archmesh</c>, audience
/// <c>archmesh-gateway</c>, kid <c>dev</c>, <c>subscribe</c>/<c>publish</c> pattern arrays.
/// </summary>
public sealed class TokenFactory
{
    private const string Issuer = "archmesh";
    private const string Audience = "archmesh-gateway";
    private readonly byte[] _secret;

    private TokenFactory(byte[] secret, string apiKey)
    {
        _secret = secret;
        ApiKey = apiKey;
    }

    /// <summary>The dev API key (header <c>X-Api-Key</c>).</summary>
    public string ApiKey { get; }

    /// <summary>Loads the dev key file (<c>{"secret": base64, "apiKey": "dev_..."}</c>; property names in any case).</summary>
    public static TokenFactory Load(string devKeyFile)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(devKeyFile));
        string? secret = null, apiKey = null;
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name.Equals("secret", StringComparison.OrdinalIgnoreCase))
            {
                secret = p.Value.GetString();
            }
            else if (p.Name.Equals("apiKey", StringComparison.OrdinalIgnoreCase))
            {
                apiKey = p.Value.GetString();
            }
        }

        if (string.IsNullOrEmpty(secret) || string.IsNullOrEmpty(apiKey))
        {
            throw new InvalidDataException($"{devKeyFile} lacks the secret or the apiKey.");
        }

        return new TokenFactory(Convert.FromBase64String(secret), apiKey);
    }

    /// <summary>A signed JWT for <paramref name="user"/> (empty = publisher token without a user).</summary>
    public string Mint(string user, string[] subscribe, string[] publish, TimeSpan lifetime)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["alg"] = "HS256", ["typ"] = "JWT", ["kid"] = "dev" });
        var claims = new Dictionary<string, object>
        {
            ["sub"] = user,
            ["iss"] = Issuer,
            ["aud"] = Audience,
            ["iat"] = now,
            ["nbf"] = now - 60,
            ["exp"] = now + (long)lifetime.TotalSeconds,
        };
        if (subscribe.Length > 0)
        {
            claims["subscribe"] = subscribe;
        }

        if (publish.Length > 0)
        {
            claims["publish"] = publish;
        }

        var signingInput = B64(header) + "." + B64(JsonSerializer.SerializeToUtf8Bytes(claims));
        var signature = HMACSHA256.HashData(_secret, Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + B64(signature);
    }

    private static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
