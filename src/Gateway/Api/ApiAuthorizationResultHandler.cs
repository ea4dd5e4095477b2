using Gateway.Auth;
using Gateway.Hosting;
using Gateway.Protocol.Errors;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;

namespace Gateway.Api;

/// <summary>
/// Answers the refusals of the HTTP authorization policies the way the API always has: 401 <c>unauthorized</c>
/// (with <c>WWW-Authenticate</c>) or <c>token_expired</c>, 403 <c>forbidden</c>, as problem+json with a detail
/// naming what is missing; each refusal goes to the sampled log (<see cref="ApiRefusalLog"/>).
/// </summary>
public sealed class ApiAuthorizationResultHandler(GatewayMetrics metrics, ApiRefusalLog refusals) : IAuthorizationMiddlewareResultHandler
{
    /// <summary>The <c>WWW-Authenticate</c> value of a 401: either scheme.</summary>
    public const string WwwAuthenticate = "Bearer, ApiKey header=\"X-Api-Key\"";

    private readonly AuthorizationMiddlewareResultHandler _default = new();

    /// <inheritdoc />
    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(authorizeResult);
        if (authorizeResult.Challenged)
        {
            var failure = context.Features.Get<ApiAuthFailure>();
            if (failure is null)
            {
                metrics.AuthFailure("missing");
                failure = new ApiAuthFailure(ErrorCode.Unauthorized, "Authenticate with the X-Api-Key header or an Authorization: Bearer publisher token.");
            }

            if (failure.Code == ErrorCode.Unauthorized)
            {
                context.Response.Headers.WWWAuthenticate = WwwAuthenticate;
            }

            await RefuseAsync(context, failure.Code, failure.Detail).ConfigureAwait(false);
            return;
        }

        if (authorizeResult.Forbidden)
        {
            await RefuseAsync(context, ErrorCode.Forbidden, ForbiddenDetail(ApiCaller.Find(context), authorizeResult)).ConfigureAwait(false);
            return;
        }

        await _default.HandleAsync(next, context, policy, authorizeResult).ConfigureAwait(false);
    }

    private static string ForbiddenDetail(ApiCaller? caller, PolicyAuthorizationResult result)
    {
        var admin = result.AuthorizationFailure?.FailedRequirements.OfType<ApiScopeRequirement>().Any(r => r.Scope.HasFlag(ApiScopes.Admin)) == true;
        return (admin, caller?.IsApiKey) switch
        {
            (true, true) => "This endpoint needs an API key with the admin scope (Gateway:Auth:ApiKeys:N:Scopes); this key has not.",
            (true, _) => "This endpoint needs an API key with the admin scope, not a publisher token.",
            (false, true) => "This API key has no publish scope (Gateway:Auth:ApiKeys:N:Scopes).",
            _ => "The bearer token has no publish permissions (claim 'publish').",
        };
    }

    private async Task RefuseAsync(HttpContext context, ErrorCode code, string detail)
    {
        var info = ErrorCatalog.Get(code);
        refusals.Refused(context, info.HttpStatus, info.Name, detail);
        await ApiProblem.For(code, detail).ExecuteAsync(context).ConfigureAwait(false);
    }
}
