namespace Gateway.Api;

/// <summary>Names of the HTTP authorization and rate-limiting policies (docs/security.md, "HTTP API").</summary>
public static class ApiPolicies
{
    /// <summary>The publish API: an API key with the <c>publish</c> scope, or a publisher token with publish patterns.</summary>
    public const string Publish = "publish";

    /// <summary>The drain: an API key with the <c>admin</c> scope.</summary>
    public const string Admin = "admin";

    /// <summary>
    /// The operations endpoints (<c>/metrics</c>, <c>/api/v1/stats*</c>, <c>/dashboard</c>): <see cref="Admin"/> when
    /// <c>Gateway:Management:RequireAdminKey</c> is in force, open otherwise.
    /// </summary>
    public const string Operations = "operations";

    /// <summary>The rate-limiting policy of the publish API: a token bucket per authenticated caller.</summary>
    public const string PerCaller = "per-caller";
}
