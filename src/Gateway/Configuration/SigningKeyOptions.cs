namespace Gateway.Configuration;

/// <summary><c>Gateway:Auth:SigningKeys:N</c>: one token signing key.</summary>
public sealed class SigningKeyOptions
{
    /// <summary>Key id (<c>kid</c>); optional, helps rotation.</summary>
    public string? Id { get; set; }

    /// <summary><c>HS256</c>, <c>RS256</c> or <c>ES256</c>.</summary>
    public string Algorithm { get; set; } = "HS256";

    /// <summary>HS256: the shared secret, base64, at least 32 bytes.</summary>
    public string? Secret { get; set; }

    /// <summary>RS256/ES256: the public key in PEM (<c>-----BEGIN PUBLIC KEY-----</c>).</summary>
    public string? PublicKeyPem { get; set; }
}
