using Gateway.Auth;
using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Api;

/// <summary>Stops the start when an API key names a scope that does not exist, naming the setting.</summary>
internal sealed class ApiKeyScopesValidator : IValidateOptions<GatewayOptions>
{
    public ValidateOptionsResult Validate(string? name, GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        for (var i = 0; i < options.Auth.ApiKeys.Count; i++)
        {
            if (AuthKeyRing.ParseScopes(options.Auth.ApiKeys[i].Scopes) is null)
            {
                failures.Add($"Gateway:Auth:ApiKeys:{i}:Scopes holds '{string.Join(", ", options.Auth.ApiKeys[i].Scopes)}': the scopes are publish and admin.");
            }
        }

        if (options.Http.RefusalLogInterval < TimeSpan.FromSeconds(1) || options.Http.RefusalLogInterval > TimeSpan.FromHours(1))
        {
            failures.Add("Gateway:Http:RefusalLogInterval must be between 00:00:01 and 01:00:00.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
