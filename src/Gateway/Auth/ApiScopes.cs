namespace Gateway.Auth;

/// <summary>
/// What an API key may do (<c>Gateway:Auth:ApiKeys:N:Scopes</c>), and the authorization policies of the HTTP
/// endpoints built on them.
/// </summary>
[Flags]
public enum ApiScopes
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary><c>publish</c>: the publish API (<c>/api/v1/publish</c>, <c>notify</c>, <c>workflows</c>, <c>broadcast</c>, <c>batch</c>).</summary>
    Publish = 1,

    /// <summary><c>admin</c>: <c>/api/v1/admin/drain</c>, and the operations endpoints when they require an admin key.</summary>
    Admin = 2,
}
