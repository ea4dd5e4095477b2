using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Auth;

/// <summary>Mints HS256 tokens in the gateway's claim format (CLI, tests, tools). Not used by the server itself.</summary>
public static class TokenMinter
{
    /// <summary>Creates a signed JWT.</summary>
    /// <param name="secret">The HS256 secret bytes.</param>
    /// <param name="issuer">The <c>iss</c> claim.</param>
    /// <param name="audience">The <c>aud</c> claim.</param>
    /// <param name="user">The <c>sub</c> claim (user id).</param>
    /// <param name="subscribe">Subscribe topic patterns.</param>
    /// <param name="publish">Publish topic patterns.</param>
    /// <param name="lifetime">Time until <c>exp</c> (negative gives an already expired token).</param>
    /// <param name="keyId">Optional <c>kid</c>.</param>
    public static string Mint(byte[] secret, string issuer, string audience, string user, IEnumerable<string>? subscribe, IEnumerable<string>? publish, TimeSpan lifetime, string? keyId = null)
    {
        var key = new SymmetricSecurityKey(secret) { KeyId = keyId };
        var now = DateTime.UtcNow;
        var expires = now + lifetime;
        var claims = new Dictionary<string, object> { [JwtRegisteredClaimNames.Sub] = user };
        var sub = subscribe?.ToArray() ?? [];
        var pub = publish?.ToArray() ?? [];
        if (sub.Length > 0)
        {
            claims[TopicPermissions.SubscribeClaim] = sub;
        }

        if (pub.Length > 0)
        {
            claims[TopicPermissions.PublishClaim] = pub;
        }

        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            // Keep iat/nbf consistent with an expired exp, or the handler refuses to create it.
            IssuedAt = expires < now ? expires.AddMinutes(-1) : now,
            NotBefore = expires < now ? expires.AddMinutes(-1) : now,
            Expires = expires,
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.HmacSha256),
        };
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);
    }
}
