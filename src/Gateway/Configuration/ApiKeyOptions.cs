namespace Gateway.Configuration;

/// <summary><c>Gateway:Auth:ApiKeys:N</c>: one backend API key, stored hashed.</summary>
public sealed class ApiKeyOptions
{
    /// <summary>Who the key belongs to (logged instead of the key).</summary>
    public string Name { get; set; } = "";

    /// <summary>Lowercase hex SHA-256 of the key (64 characters).</summary>
    public string Sha256 { get; set; } = "";
}
