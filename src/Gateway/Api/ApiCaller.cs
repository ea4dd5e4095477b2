using Gateway.Auth;
using Gateway.Hosting;
using Gateway.Protocol.Errors;
using Microsoft.AspNetCore.Http;

namespace Gateway.Api;

/// <summary>
/// The authenticated caller of the HTTP API: an API key (<c>X-Api-Key</c>, may publish anywhere) or a
/// publisher JWT (<c>Authorization: Bearer</c>, may publish per its <c>publish</c> patterns).
/// </summary>
/// <param name="Name">Key name or token subject (for logs and idempotency scoping; never the secret).</param>
/// <param name="Permissions">What it may publish.</param>
/// <param name="IsApiKey">Whether it authenticated with an API key (admin operations need one).</param>
public sealed record ApiCaller(string Name, TopicPermissions Permissions, bool IsApiKey)
{
    /// <summary>Authenticates a request; returns the caller or a problem result (401/403).</summary>
    public static async Task<(ApiCaller? Caller, IResult? Problem)> AuthenticateAsync(HttpContext context, AuthKeyRing keys, TokenAuthenticator tokens, GatewayMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(metrics);
        var apiKey = context.Request.Headers["X-Api-Key"].ToString();
        if (apiKey.Length > 0)
        {
            var name = keys.MatchApiKey(apiKey);
            if (name is null)
            {
                metrics.AuthFailure("api_key");
                return (null, Unauthorized(context, "The API key is not valid."));
            }

            return (new ApiCaller("key:" + name, TopicPermissions.PublishAnywhere, true), null);
        }

        var authorization = context.Request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var result = await tokens.ValidateAsync(authorization["Bearer ".Length..].Trim()).ConfigureAwait(false);
            if (result.Error != ErrorCode.None)
            {
                metrics.AuthFailure(result.Reason ?? "invalid");
                return (null, result.Error == ErrorCode.TokenExpired
                    ? ApiProblem.For(ErrorCode.TokenExpired, "The bearer token expired.")
                    : Unauthorized(context, "The bearer token is not valid: " + result.Message));
            }

            if (!result.Permissions!.CanPublishSomewhere)
            {
                return (null, ApiProblem.For(ErrorCode.Forbidden, "The bearer token has no publish permissions (claim 'publish')."));
            }

            return (new ApiCaller("jwt:" + (result.Permissions.UserId ?? "publisher"), result.Permissions, false), null);
        }

        metrics.AuthFailure("missing");
        return (null, Unauthorized(context, "Authenticate with the X-Api-Key header or an Authorization: Bearer publisher token."));
    }

    private static IResult Unauthorized(HttpContext context, string detail)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer, ApiKey header=\"X-Api-Key\"";
        return ApiProblem.For(ErrorCode.Unauthorized, detail);
    }
}
