using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Gateway.Tests.Infrastructure;

/// <summary>
/// A self-signed server certificate for <c>localhost</c> / 127.0.0.1, generated in the test (never committed), written to
/// a temporary directory as PKCS#12 and as PEM certificate + key, and a validation callback that trusts it as its own root.
/// </summary>
public sealed class TestCertificate : IDisposable
{
    /// <summary>Password of <see cref="PfxPath"/>.</summary>
    public const string Password = "test-pfx-password";

    private readonly DirectoryInfo _directory;

    private TestCertificate(X509Certificate2 certificate, DirectoryInfo directory)
    {
        Certificate = certificate;
        _directory = directory;
        PfxPath = Path.Combine(directory.FullName, "gateway.pfx");
        CertificatePemPath = Path.Combine(directory.FullName, "gateway.crt");
        KeyPemPath = Path.Combine(directory.FullName, "gateway.key");
        File.WriteAllBytes(PfxPath, certificate.Export(X509ContentType.Pkcs12, Password));
        File.WriteAllText(CertificatePemPath, certificate.ExportCertificatePem());
        using var key = certificate.GetECDsaPrivateKey()!;
        File.WriteAllText(KeyPemPath, key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>The certificate with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The PKCS#12 file (with <see cref="Password"/>).</summary>
    public string PfxPath { get; }

    /// <summary>The PEM certificate.</summary>
    public string CertificatePemPath { get; }

    /// <summary>The PEM (unencrypted PKCS#8) private key.</summary>
    public string KeyPemPath { get; }

    /// <summary>Creates an ECDSA P-256 certificate valid for an hour with the SANs localhost and 127.0.0.1.</summary>
    public static TestCertificate Create()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, critical: true));
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        var directory = Directory.CreateTempSubdirectory("archmesh-tls-");
        return new TestCertificate(certificate, directory);
    }

    /// <summary>
    /// Validates the server's certificate properly (chain, host name, validity) with this certificate as the only trusted
    /// root, like a client configured with a private CA.
    /// </summary>
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            // No certificate, or the name does not match: never acceptable.
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.Add(Certificate);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return custom.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Certificate.Dispose();
        _directory.Delete(recursive: true);
    }
}
