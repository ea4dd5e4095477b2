using Gateway.Client.Tests.Infrastructure;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Client.Tests;

/// <summary>
/// <c>tcps://</c>: the client over TLS to the real gateway's raw TCP listener with a certificate generated in the test.
/// The certificate is validated by default; <see cref="GatewayClientOptions.ConfigureTls"/> trusts a private root.
/// </summary>
public sealed class TcpTlsClientTests : IAsyncLifetime
{
    private readonly TestCertificate _certificate = TestCertificate.Create();
    private TestGateway _gateway = null!;

    public async Task InitializeAsync() => _gateway = await TestGateway.StartAsync(nodeId: "node-tls", extraArgs:
    [
        "--Gateway:Tcp:Tls:CertificatePath=" + _certificate.PfxPath,
        "--Gateway:Tcp:Tls:Password=" + TestCertificate.Password,
    ]);

    [Theory]
    [InlineData("localhost")]
    [InlineData("127.0.0.1")]
    public async Task Tcps_with_a_trusted_root_connects_subscribes_and_receives_what_it_publishes(string host)
    {
        var topic = $"team:tls/{host}";
        var token = _gateway.Token("tls-client", subscribe: ["team:*"], publish: ["team:*"]);
        await using var client = await GatewayClient.ConnectAsync(Options(host, token) with
        {
            ConfigureTls = tls => tls.RemoteCertificateValidationCallback = _certificate.Validate,
        });

        Assert.Equal(new Uri($"tcps://{host}:{_gateway.TcpPort}"), client.Connection!.Endpoint);
        await using var subscription = await client.SubscribeAsync(topic);
        var ack = await client.PublishAsync(topic, "encrypted", Priority.High);
        var received = await subscription.NextAsync(1);
        Assert.Equal("encrypted", received[0].GetString());
        Assert.Equal(ack.Position, received[0].Position);
    }

    [Fact]
    public async Task Tcps_validates_the_certificate_by_default_and_refuses_an_untrusted_one()
    {
        var error = await Assert.ThrowsAsync<GatewayConnectionException>(() => GatewayClient.ConnectAsync(Options("localhost", _gateway.Token("tls-untrusted"))));

        Assert.Contains("TLS handshake", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plain_tcp_against_the_tls_port_fails_with_the_servers_explanation()
    {
        var options = _gateway.Options("tcp", _gateway.Token("tls-plain"));

        var error = await Assert.ThrowsAsync<GatewayException>(() => GatewayClient.ConnectAsync(options));

        Assert.Equal(ErrorCode.MalformedFrame, error.Code);
        Assert.Contains("requires TLS", error.Message, StringComparison.Ordinal);
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        _certificate.Dispose();
    }

    private GatewayClientOptions Options(string host, string token) => _gateway.Options("tcp", token) with
    {
        Endpoints = [new Uri($"tcps://{host}:{_gateway.TcpPort}")],
    };
}
