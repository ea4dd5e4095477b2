using Gateway.Auth;
using Microsoft.AspNetCore.Authorization;

namespace Gateway.Api;

/// <summary>
/// An authorization requirement (and its own handler): the caller holds <see cref="Scope"/>. <c>publish</c>: an API
/// key with the publish scope, or a publisher token with publish patterns. <c>admin</c>: an API key with the admin
/// scope (never a token).
/// </summary>
/// <param name="scope">The scope required.</param>
public sealed class ApiScopeRequirement(ApiScopes scope) : AuthorizationHandler<ApiScopeRequirement>, IAuthorizationRequirement
{
    /// <summary>The scope required.</summary>
    public ApiScopes Scope { get; } = scope;

    /// <inheritdoc />
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ApiScopeRequirement requirement)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(requirement);
        foreach (var identity in context.User.Identities)
        {
            if (identity is ApiCallerIdentity { Caller: var caller }
                && (caller.Scopes & requirement.Scope) == requirement.Scope
                && (caller.IsApiKey || requirement.Scope == ApiScopes.Publish))
            {
                context.Succeed(requirement);
                break;
            }
        }

        return Task.CompletedTask;
    }
}
