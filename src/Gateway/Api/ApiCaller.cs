using Gateway.Auth;
using Microsoft.AspNetCore.Http;

namespace Gateway.Api;

/// <summary>
/// The authenticated caller of the HTTP API: an API key (<c>X-Api-Key</c>, may publish anywhere with the
/// <c>publish</c> scope, drain with <c>admin</c>) or a publisher JWT (<c>Authorization: Bearer</c>, may publish per
/// its <c>publish</c> patterns). Built by <see cref="ApiKeyAuthenticationHandler"/> or
/// <see cref="PublisherTokenAuthenticationHandler"/> and carried by an <see cref="ApiCallerIdentity"/>; handlers
/// take it as a parameter (<see cref="BindAsync"/>) once the endpoint's policy has let the request through.
/// </summary>
/// <param name="Name">Key name or token subject, prefixed <c>key:</c> / <c>jwt:</c> (for logs, idempotency scoping and the rate limiter's partition; never the secret).</param>
/// <param name="Permissions">What it may publish.</param>
/// <param name="IsApiKey">Whether it authenticated with an API key (admin operations need one).</param>
/// <param name="Scopes">What it may do: an API key's configured scopes; a publisher token has <see cref="ApiScopes.Publish"/> when it has publish patterns.</param>
public sealed record ApiCaller(string Name, TopicPermissions Permissions, bool IsApiKey, ApiScopes Scopes)
{
    /// <summary>The caller the authentication handlers found for this request, or null.</summary>
    public static ApiCaller? Find(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        foreach (var identity in context.User.Identities)
        {
            if (identity is ApiCallerIdentity { Caller: var caller })
            {
                return caller;
            }
        }

        return null;
    }

    /// <summary>Minimal API binding: the authenticated caller (the endpoint's authorization policy guarantees one).</summary>
    public static ValueTask<ApiCaller?> BindAsync(HttpContext context) => ValueTask.FromResult(Find(context));
}
