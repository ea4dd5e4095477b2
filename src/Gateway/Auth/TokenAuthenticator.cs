using Gateway.Configuration;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Topics;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Auth;

/// <summary>
/// Validates client and publisher JWTs (§5): signature with the configured keys (HS256, RS256,
/// ES256 only; <c>alg: none</c> never), issuer, audience, expiry with the configured skew.
/// </summary>
public sealed class TokenAuthenticator
{
    private readonly JsonWebTokenHandler _handler = new() { MapInboundClaims = false };
    private readonly TokenValidationParameters _parameters;

    /// <summary>Creates the validator from the key ring and options.</summary>
    public TokenAuthenticator(AuthKeyRing keys, IOptions<GatewayOptions> options)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(options);
        var auth = options.Value.Auth;
        ClockSkew = auth.ClockSkew;
        _parameters = new TokenValidationParameters
        {
            ValidIssuer = auth.Issuer,
            ValidAudience = auth.Audience,
            IssuerSigningKeys = keys.SigningKeysInUse,
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256, SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256],
            ClockSkew = auth.ClockSkew,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ValidateIssuer = true,
            ValidateAudience = true,
            ValidateLifetime = true,
            ValidateIssuerSigningKey = true,
            // Try every configured key when the token has no (or an unknown) kid: rotation without kid still works.
            TryAllIssuerSigningKeys = true,
        };
    }

    /// <summary>The configured clock skew (also applied to the live-connection expiry check).</summary>
    public TimeSpan ClockSkew { get; }

    /// <summary>Validates <paramref name="token"/>.</summary>
    public async ValueTask<TokenResult> ValidateAsync(string token)
    {
        if (string.IsNullOrWhiteSpace(token))
        {
            return TokenResult.Fail(ErrorCode.Unauthorized, "missing", "No token was presented.");
        }

        TokenValidationResult result;
        try
        {
            result = await _handler.ValidateTokenAsync(token, _parameters).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ArgumentException or SecurityTokenException)
        {
            return TokenResult.Fail(ErrorCode.Unauthorized, "malformed", "The token is malformed.");
        }

        if (!result.IsValid || result.SecurityToken is not JsonWebToken jwt)
        {
            // Error texts go to the client, so they name the check that failed but never echo the token.
            return result.Exception switch
            {
                SecurityTokenExpiredException => TokenResult.Fail(ErrorCode.TokenExpired, "expired", "The token expired."),
                SecurityTokenInvalidAudienceException => TokenResult.Fail(ErrorCode.Unauthorized, "audience", "The token is for another audience."),
                SecurityTokenInvalidIssuerException => TokenResult.Fail(ErrorCode.Unauthorized, "issuer", "The token has an unknown issuer."),
                SecurityTokenNotYetValidException => TokenResult.Fail(ErrorCode.Unauthorized, "not_yet_valid", "The token is not valid yet."),
                SecurityTokenInvalidAlgorithmException => TokenResult.Fail(ErrorCode.Unauthorized, "algorithm", "The token's signing algorithm is not accepted."),
                SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => TokenResult.Fail(ErrorCode.Unauthorized, "signature", "The token signature is invalid."),
                SecurityTokenNoExpirationException => TokenResult.Fail(ErrorCode.Unauthorized, "no_expiry", "The token has no expiry."),
                _ => TokenResult.Fail(ErrorCode.Unauthorized, "invalid", "The token is invalid."),
            };
        }

        var subject = jwt.Subject;
        var subscribe = jwt.Claims.Where(c => c.Type == TopicPermissions.SubscribeClaim).Select(c => c.Value).ToArray();
        var publish = jwt.Claims.Where(c => c.Type == TopicPermissions.PublishClaim).Select(c => c.Value).ToArray();
        if (string.IsNullOrEmpty(subject) && publish.Length == 0)
        {
            return TokenResult.Fail(ErrorCode.Unauthorized, "no_subject", "The token has neither a sub claim nor publish permissions.");
        }

        if (subject is { Length: > 200 })
        {
            return TokenResult.Fail(ErrorCode.Unauthorized, "invalid", "The sub claim is too long.");
        }

        var expires = new DateTimeOffset(DateTime.SpecifyKind(jwt.ValidTo, DateTimeKind.Utc));
        return new TokenResult(ErrorCode.None, null, null, new TopicPermissions(string.IsNullOrEmpty(subject) ? null : subject, subscribe, publish), expires);
    }

    /// <summary>
    /// Validates the token of a protocol connection (Connect, Refresh): <see cref="ValidateAsync"/>, and the user id
    /// must form a valid <c>user:</c> topic. Such a user could connect but never receive a notification (its topic
    /// cannot exist), so it is refused as <c>unauthorized</c> with the reason rather than left silently deaf.
    /// </summary>
    public async ValueTask<TokenResult> ValidateClientAsync(string token)
    {
        var result = await ValidateAsync(token).ConfigureAwait(false);
        if (result.Permissions?.UserId is { } userId && UserTopicProblem(userId) is { } problem)
        {
            return TokenResult.Fail(ErrorCode.Unauthorized, "user_topic", $"The user id '{Preview(userId)}' cannot form a user: topic: {problem}.");
        }

        return result;
    }

    /// <summary>Why <c>user:{userId}</c> is not a valid topic (protocol §9), or null when it is.</summary>
    public static string? UserTopicProblem(string userId)
    {
        ArgumentNullException.ThrowIfNull(userId);
        for (var i = 0; i < userId.Length; i++)
        {
            var c = userId[i];
            if (c <= ' ' || c == '\x7F' || c is '*' or '?' or '#')
            {
                return $"character {i} is {(c is '*' or '?' or '#' ? $"'{c}'" : $"U+{(int)c:X4}")}, and topics allow no control characters, space, DEL, '*', '?' or '#'";
            }

            if (char.IsSurrogate(c))
            {
                if (!char.IsHighSurrogate(c) || i + 1 == userId.Length || !char.IsLowSurrogate(userId[i + 1]))
                {
                    return $"character {i} is a lone UTF-16 surrogate, which is not valid UTF-8";
                }

                i++; // the pair's low half
            }
        }

        var max = ProtocolLimits.MaxTopicBytes - TopicRules.UserPrefix.Length;
        var bytes = Utf8Strict.GetByteCount(userId);
        return bytes > max ? $"it is {bytes} bytes of UTF-8, and at most {max} fit in a topic of {ProtocolLimits.MaxTopicBytes} bytes" : null;
    }

    // The id goes into the client's error text: bounded, and without control characters.
    private static string Preview(string userId)
    {
        const int Shown = 32;
        var shown = userId.Length > Shown ? userId[..Shown] : userId;
        var clean = string.Create(shown.Length, shown, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                span[i] = char.IsControl(source[i]) || char.IsSurrogate(source[i]) ? '?' : source[i];
            }
        });
        return userId.Length > Shown ? clean + "…" : clean;
    }
}

/// <summary>Outcome of a token validation.</summary>
/// <param name="Error">None when valid; Unauthorized or TokenExpired otherwise.</param>
/// <param name="Reason">Short metric label of the failure.</param>
/// <param name="Message">Text for the client.</param>
/// <param name="Permissions">The principal when valid.</param>
/// <param name="ExpiresAt">The token's <c>exp</c>.</param>
public sealed record TokenResult(ErrorCode Error, string? Reason, string? Message, TopicPermissions? Permissions, DateTimeOffset ExpiresAt)
{
    /// <summary>A failed validation.</summary>
    public static TokenResult Fail(ErrorCode error, string reason, string message) => new(error, reason, message, null, default);
}
