using System.Security.Claims;
using System.Text.Encodings.Web;
using Gateway.Auth;
using Gateway.Hosting;
using Gateway.Protocol.Errors;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gateway.Api;

/// <summary>
/// The <c>PublisherToken</c> authentication scheme: <c>Authorization: Bearer &lt;JWT&gt;</c>, validated like client
/// tokens (<see cref="TokenAuthenticator"/>). Skipped when the request carries <c>X-Api-Key</c> (the key wins, as it
/// always has). An invalid or expired token is no result with the reason kept for the 401 (see
/// <see cref="ApiKeyAuthenticationHandler"/> for why not a failure). Whether the token may publish is the
/// <c>publish</c> policy's decision (403), not this scheme's.
/// </summary>
public sealed class PublisherTokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    TokenAuthenticator tokens,
    GatewayMetrics metrics)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>The scheme name.</summary>
    public const string SchemeName = "PublisherToken";

    /// <inheritdoc />
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (Request.Headers[ApiKeyAuthenticationHandler.HeaderName].ToString().Length > 0)
        {
            return AuthenticateResult.NoResult();
        }

        var authorization = Request.Headers.Authorization.ToString();
        if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }

        var result = await tokens.ValidateAsync(authorization["Bearer ".Length..].Trim()).ConfigureAwait(false);
        if (result.Error != ErrorCode.None)
        {
            metrics.AuthFailure(result.Reason ?? "invalid");
            Context.Features.Set(result.Error == ErrorCode.TokenExpired
                ? new ApiAuthFailure(ErrorCode.TokenExpired, "The bearer token expired.")
                : new ApiAuthFailure(ErrorCode.Unauthorized, "The bearer token is not valid: " + result.Message));
            return AuthenticateResult.NoResult();
        }

        var permissions = result.Permissions!;
        var caller = new ApiCaller("jwt:" + (permissions.UserId ?? "publisher"), permissions, false, permissions.CanPublishSomewhere ? ApiScopes.Publish : ApiScopes.None);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ApiCallerIdentity(caller, SchemeName)), SchemeName));
    }
}
