using System.Security.Claims;

namespace Gateway.Api;

/// <summary>The identity an HTTP API authentication scheme produces: claims for the framework, the <see cref="ApiCaller"/> for the handlers.</summary>
public sealed class ApiCallerIdentity : ClaimsIdentity
{
    /// <summary>Creates the identity of <paramref name="caller"/>, authenticated by <paramref name="scheme"/>.</summary>
    public ApiCallerIdentity(ApiCaller caller, string scheme)
        : base([new Claim(ClaimTypes.Name, caller?.Name ?? throw new ArgumentNullException(nameof(caller)))], scheme)
    {
        Caller = caller;
    }

    /// <summary>The caller.</summary>
    public ApiCaller Caller { get; }
}
