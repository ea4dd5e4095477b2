namespace Gateway.Configuration;

/// <summary><c>Gateway:Auth:ApiKeys:N</c>: one backend API key, stored hashed.</summary>
public sealed class ApiKeyOptions
{
    /// <summary>Who the key belongs to (logged instead of the key; the rate limiter's partition).</summary>
    public string Name { get; set; } = "";

    /// <summary>Lowercase hex SHA-256 of the key (64 characters).</summary>
    public string Sha256 { get; set; } = "";

    /// <summary>
    /// What the key may do: <c>publish</c> (the publish API) and/or <c>admin</c> (drain, and the operations
    /// endpoints when they are protected). Empty (not set) = <c>publish</c> and <c>admin</c>, the rights every key
    /// had before scopes existed, so existing configurations keep working; set it to narrow a key.
    /// </summary>
    public List<string> Scopes { get; set; } = [];
}
