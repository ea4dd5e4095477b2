using System.ComponentModel.DataAnnotations;

namespace Gateway.Configuration;

/// <summary><c>Gateway:Auth</c>: JWT validation, API keys and the browser origin allowlist.</summary>
public sealed class AuthOptions
{
    /// <summary>Expected <c>iss</c> claim.</summary>
    [Required]
    public string Issuer { get; set; } = "archmesh";

    /// <summary>Expected <c>aud</c> claim.</summary>
    [Required]
    public string Audience { get; set; } = "archmesh-gateway";

    /// <summary>Tolerated clock difference for <c>exp</c>/<c>nbf</c> (0–30 s).</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Keys that may sign client and publisher tokens.</summary>
    public List<SigningKeyOptions> SigningKeys { get; set; } = [];

    /// <summary>API keys of backends (stored as SHA-256 hashes, never in clear).</summary>
    public List<ApiKeyOptions> ApiKeys { get; set; } = [];

    /// <summary>Exact browser origins allowed to open a WebSocket (requests without Origin are not browsers and pass).</summary>
    public List<string> AllowedOrigins { get; set; } = [];

    /// <summary>Development only: file holding the generated dev signing secret and API key.</summary>
    public string? DevKeyFile { get; set; }
}
