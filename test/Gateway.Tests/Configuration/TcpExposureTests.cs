using System.Net;
using Gateway.Configuration;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.Configuration;

/// <summary>
/// Where the raw TCP endpoint listens and whether it may be plaintext: loopback by default, and outside Development no
/// plaintext raw TCP on a reachable address unless TLS is configured or <c>Gateway:Tcp:AllowPlaintext</c> says so.
/// </summary>
public sealed class TcpExposureTests
{
    [Theory]
    [InlineData("Development")]
    [InlineData("Production")]
    public async Task Without_a_bind_address_raw_tcp_listens_on_loopback_only(string environment)
    {
        await using var server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Tcp:BindAddress"] = null }, environment);

        var endPoint = server.TcpEndPoint!;
        Assert.True(IPAddress.IsLoopback(endPoint.Address), $"bound to {endPoint}");
        Assert.Equal("localhost", server.App.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.Tcp.BindAddress);
    }

    [Theory]
    [InlineData("Production", "0.0.0.0")]
    [InlineData("Production", "*")]
    [InlineData("Staging", "192.0.2.10")]
    public async Task Plaintext_raw_tcp_on_a_reachable_address_refuses_to_start_naming_the_settings(string environment, string bind)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayServer.StartAsync(
            new Dictionary<string, string?> { ["Gateway:Tcp:BindAddress"] = bind }, environment));

        var failure = Assert.Single(error.Failures, f => f.Contains("Gateway:Tcp:BindAddress", StringComparison.Ordinal));
        Assert.Contains($"'{bind}' is not a loopback address", failure, StringComparison.Ordinal);
        Assert.Contains(environment, failure, StringComparison.Ordinal);
        Assert.Contains("Gateway:Tcp:Tls:CertificatePath", failure, StringComparison.Ordinal);
        Assert.Contains("Gateway:Tcp:AllowPlaintext=true", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void A_reachable_address_is_accepted_with_AllowPlaintext_or_a_certificate_and_in_Development()
    {
        using var certificate = TestCertificate.Create();
        Dictionary<string, string?>[] accepted =
        [
            new() { ["Gateway:Tcp:BindAddress"] = "0.0.0.0", ["Gateway:Tcp:AllowPlaintext"] = "true" },
            new() { ["Gateway:Tcp:BindAddress"] = "0.0.0.0", ["Gateway:Tcp:Tls:CertificatePath"] = certificate.PfxPath, ["Gateway:Tcp:Tls:Password"] = TestCertificate.Password },
            new() { ["Gateway:Tcp:BindAddress"] = "0.0.0.0", ["Gateway:Tcp:Enabled"] = "false" },
        ];
        foreach (var settings in accepted)
        {
            // Validation only (the options are created and validated on first use): nothing binds a reachable address.
            Assert.NotNull(Validate(settings, "Production"));
        }

        Assert.NotNull(Validate(new() { ["Gateway:Tcp:BindAddress"] = "0.0.0.0" }, "Development"));
    }

    [Fact]
    public void A_certificate_that_cannot_be_loaded_refuses_to_start_naming_the_setting_and_not_the_password()
    {
        using var certificate = TestCertificate.Create();
        var missing = Assert.Throws<OptionsValidationException>(() => Validate(new() { ["Gateway:Tcp:Tls:CertificatePath"] = "/nonexistent/gateway.pfx" }, "Production"));
        Assert.Contains(missing.Failures, f => f.Contains("Gateway:Tcp:Tls:CertificatePath '/nonexistent/gateway.pfx' does not exist", StringComparison.Ordinal));

        var wrongPassword = Assert.Throws<OptionsValidationException>(() => Validate(new()
        {
            ["Gateway:Tcp:Tls:CertificatePath"] = certificate.PfxPath,
            ["Gateway:Tcp:Tls:Password"] = "wrong-secret-password",
        }, "Production"));
        var failure = Assert.Single(wrongPassword.Failures, f => f.Contains("Gateway:Tcp:Tls", StringComparison.Ordinal));
        Assert.DoesNotContain("wrong-secret-password", failure, StringComparison.Ordinal);

        var noKey = Assert.Throws<OptionsValidationException>(() => Validate(new() { ["Gateway:Tcp:Tls:CertificatePath"] = certificate.CertificatePemPath }, "Production"));
        Assert.Contains(noKey.Failures, f => f.Contains("Gateway:Tcp:Tls", StringComparison.Ordinal));

        var keyWithoutCertificate = Assert.Throws<OptionsValidationException>(() => Validate(new() { ["Gateway:Tcp:Tls:KeyPath"] = certificate.KeyPemPath }, "Production"));
        Assert.Contains(keyWithoutCertificate.Failures, f => f.Contains("Gateway:Tcp:Tls:CertificatePath is not", StringComparison.Ordinal));
    }

    private static GatewayOptions Validate(Dictionary<string, string?> settings, string environment)
    {
        using var app = GatewayServer.Build(settings, environment, null, out _);
        return app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value;
    }
}
