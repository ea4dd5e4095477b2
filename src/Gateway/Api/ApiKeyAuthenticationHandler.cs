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
/// The <c>ApiKey</c> authentication scheme: the <c>X-Api-Key</c> header, checked against the SHA-256 hashes of
/// <c>Gateway:Auth:ApiKeys</c> (<see cref="AuthKeyRing"/>). No header: no result (another scheme may apply). A wrong
/// key is no result either, with the reason kept for the 401 (<see cref="ApiAuthFailure"/>): the framework logs a
/// failed scheme on every request, and refusals are logged sampled instead (<see cref="ApiRefusalLog"/>).
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    AuthKeyRing keys,
    GatewayMetrics metrics)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>The scheme name.</summary>
    public const string SchemeName = "ApiKey";

    /// <summary>The request header carrying the key.</summary>
    public const string HeaderName = "X-Api-Key";

    /// <inheritdoc />
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var apiKey = Request.Headers[HeaderName].ToString();
        if (apiKey.Length == 0)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var (name, scopes) = keys.Match(apiKey);
        if (name is null)
        {
            metrics.AuthFailure("api_key");
            Context.Features.Set(new ApiAuthFailure(ErrorCode.Unauthorized, "The API key is not valid."));
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var caller = new ApiCaller("key:" + name, TopicPermissions.PublishAnywhere, true, scopes);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ApiCallerIdentity(caller, SchemeName)), SchemeName)));
    }
}
