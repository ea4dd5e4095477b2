namespace Gateway.Configuration;

/// <summary>
/// <c>Gateway:Tcp:Tls</c>: the certificate of the raw TCP endpoint, in the shapes Kestrel's HTTPS certificate
/// configuration accepts from files: a PKCS#12 file (<c>.pfx</c>/<c>.p12</c>, with <see cref="Password"/>), or a
/// PEM certificate with its key in <see cref="KeyPath"/> (encrypted when <see cref="Password"/> is set) or in the same file.
/// </summary>
public sealed class TcpTlsOptions
{
    /// <summary>Path of the certificate (PKCS#12 or PEM). TLS is on when this is set.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>Path of the PEM private key, when it is not inside <see cref="CertificatePath"/>.</summary>
    public string? KeyPath { get; set; }

    /// <summary>Password of the PKCS#12 file or of the encrypted PEM key.</summary>
    public string? Password { get; set; }

    /// <summary>Whether TLS is configured.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(CertificatePath);
}
