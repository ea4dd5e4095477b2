using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Gateway.Configuration;

namespace Gateway.Hosting;

/// <summary>Loads the raw TCP endpoint's certificate from <c>Gateway:Tcp:Tls</c> (PKCS#12, or PEM with its key).</summary>
public static class TcpCertificate
{
    /// <summary>
    /// Loads the certificate with its private key. Throws <see cref="InvalidOperationException"/> with a message naming
    /// the settings (never the password) when a file is missing, unreadable, or the certificate has no private key.
    /// </summary>
    public static X509Certificate2 Load(TcpTlsOptions tls)
    {
        ArgumentNullException.ThrowIfNull(tls);
        var path = tls.CertificatePath;
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new InvalidOperationException("Gateway:Tcp:Tls:CertificatePath is not set.");
        }

        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"Gateway:Tcp:Tls:CertificatePath '{path}' does not exist (or is not readable by the gateway's user).");
        }

        if (!string.IsNullOrWhiteSpace(tls.KeyPath) && !File.Exists(tls.KeyPath))
        {
            throw new InvalidOperationException($"Gateway:Tcp:Tls:KeyPath '{tls.KeyPath}' does not exist (or is not readable by the gateway's user).");
        }

        X509Certificate2 certificate;
        try
        {
            certificate = LoadFile(tls, path);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new InvalidOperationException($"Gateway:Tcp:Tls: cannot load the certificate '{path}'{(string.IsNullOrWhiteSpace(tls.KeyPath) ? "" : $" with the key '{tls.KeyPath}'")}: {e.Message} (a .pfx/.p12 file with Gateway:Tcp:Tls:Password, or a PEM certificate with its PEM key in Gateway:Tcp:Tls:KeyPath or in the same file; Password for an encrypted key).", e);
        }

        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new InvalidOperationException($"Gateway:Tcp:Tls:CertificatePath '{path}' has no private key: set Gateway:Tcp:Tls:KeyPath to its PEM key, or use a .pfx/.p12 file that contains it.");
        }

        return certificate;
    }

    private static X509Certificate2 LoadFile(TcpTlsOptions tls, string path)
    {
        var extension = Path.GetExtension(path);
        if (string.IsNullOrWhiteSpace(tls.KeyPath) && (extension.Equals(".pfx", StringComparison.OrdinalIgnoreCase) || extension.Equals(".p12", StringComparison.OrdinalIgnoreCase)))
        {
            return X509CertificateLoader.LoadPkcs12FromFile(path, tls.Password);
        }

        var keyPath = string.IsNullOrWhiteSpace(tls.KeyPath) ? path : tls.KeyPath;
        return string.IsNullOrEmpty(tls.Password)
            ? X509Certificate2.CreateFromPemFile(path, keyPath)
            : X509Certificate2.CreateFromEncryptedPemFile(path, tls.Password, keyPath);
    }
}
