using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace LoadTest.Targets;

/// <summary>Mints HS256 JWTs with the claims of docs/design/host-contract.md (the server is started with the same secret).</summary>
public static class Jwt
{
    public static string Mint(TargetSettings s, string user, string[] subscribe, string[] publish, TimeSpan ttl)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["alg"] = "HS256", ["typ"] = "JWT", ["kid"] = s.JwtKeyId });
        var payload = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["sub"] = user,
            ["iss"] = s.Issuer,
            ["aud"] = s.Audience,
            ["iat"] = now,
            ["nbf"] = now - 60,
            ["exp"] = now + (long)ttl.TotalSeconds,
            ["subscribe"] = subscribe,
            ["publish"] = publish,
        });
        var signingInput = B64(header) + "." + B64(payload);
        var sig = HMACSHA256.HashData(Convert.FromBase64String(s.JwtSecretBase64), Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + B64(sig);
    }

    private static string B64(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
