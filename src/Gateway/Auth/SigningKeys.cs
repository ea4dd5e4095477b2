using System.Security.Cryptography;
using Gateway.Configuration;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Auth;

/// <summary>Turns configured signing keys into <see cref="SecurityKey"/>s, with readable errors.</summary>
public static class SigningKeys
{
    /// <summary>Minimum HS256 secret length: RFC 7518 §3.2 requires a key at least as long as the hash.</summary>
    public const int MinimumSecretBytes = 32;

    /// <summary>Returns null when <paramref name="key"/> is usable, else what is wrong (without the secret).</summary>
    public static string? Check(SigningKeyOptions key)
    {
        ArgumentNullException.ThrowIfNull(key);
        try
        {
            Create(key);
            return null;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or CryptographicException or InvalidOperationException)
        {
            return e.Message;
        }
    }

    /// <summary>Creates the validation key for <paramref name="key"/>.</summary>
    /// <exception cref="InvalidOperationException">The key is unusable (message says why).</exception>
    public static SecurityKey Create(SigningKeyOptions key)
    {
        ArgumentNullException.ThrowIfNull(key);
        SecurityKey result;
        switch (key.Algorithm)
        {
            case SecurityAlgorithms.HmacSha256:
                {
                    if (string.IsNullOrEmpty(key.Secret))
                    {
                        throw new InvalidOperationException("Algorithm HS256 needs Secret (base64, at least 32 bytes).");
                    }

                    byte[] secret;
                    try
                    {
                        secret = Convert.FromBase64String(key.Secret);
                    }
                    catch (FormatException)
                    {
                        throw new InvalidOperationException("Secret is not valid base64.");
                    }

                    if (secret.Length < MinimumSecretBytes)
                    {
                        throw new InvalidOperationException($"Secret is {secret.Length} bytes; HS256 needs at least {MinimumSecretBytes}.");
                    }

                    result = new SymmetricSecurityKey(secret);
                    break;
                }

            case SecurityAlgorithms.RsaSha256:
                {
                    // Disposed unless handed to the security key (a rejected key must not leak its handle).
                    RSA? rsa = RSA.Create();
                    try
                    {
                        rsa.ImportFromPem(RequirePem(key));
                        if (rsa.KeySize < 2048)
                        {
                            throw new InvalidOperationException($"RSA key is {rsa.KeySize} bits; RS256 needs at least 2048.");
                        }

                        result = new RsaSecurityKey(rsa);
                        rsa = null;
                    }
                    finally
                    {
                        rsa?.Dispose();
                    }

                    break;
                }

            case SecurityAlgorithms.EcdsaSha256:
                {
                    ECDsa? ecdsa = ECDsa.Create();
                    try
                    {
                        ecdsa.ImportFromPem(RequirePem(key));
                        if (ecdsa.KeySize != 256)
                        {
                            throw new InvalidOperationException($"EC key is on a {ecdsa.KeySize}-bit curve; ES256 needs P-256.");
                        }

                        result = new ECDsaSecurityKey(ecdsa);
                        ecdsa = null;
                    }
                    finally
                    {
                        ecdsa?.Dispose();
                    }

                    break;
                }

            default:
                throw new InvalidOperationException($"Algorithm '{key.Algorithm}' is not supported; use HS256, RS256 or ES256.");
        }

        result.KeyId = string.IsNullOrEmpty(key.Id) ? null : key.Id;
        return result;
    }

    private static string RequirePem(SigningKeyOptions key) =>
        string.IsNullOrWhiteSpace(key.PublicKeyPem)
            ? throw new InvalidOperationException($"Algorithm {key.Algorithm} needs PublicKeyPem.")
            : key.PublicKeyPem;
}
