using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>
/// The raw TCP endpoint with TLS (<c>Gateway:Tcp:Tls</c>): a real TcpClient + SslStream handshake against a certificate
/// generated in the test, then the protocol as over plaintext; plaintext clients on the TLS port are refused cleanly.
/// </summary>
public sealed class TcpTlsTests : IDisposable
{
    private readonly TestCertificate _certificate = TestCertificate.Create();

    public static TheoryData<string> CertificateShapes => new() { "pfx", "pem" };

    [Theory]
    [MemberData(nameof(CertificateShapes))]
    public async Task A_tls_client_completes_the_handshake_connects_subscribes_and_publishes(string shape)
    {
        await using var server = await GatewayServer.StartAsync(TlsSettings(shape));
        SslStream? tls = null;
        var client = await TestClient.OpenTcpAsync(server.TcpEndPoint!, async network =>
        {
            tls = new SslStream(network);
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                RemoteCertificateValidationCallback = _certificate.Validate,
            });
            return tls;
        });
        await using var _ = client;
        Assert.True(tls!.IsAuthenticated && tls.IsEncrypted);
        Assert.Equal(_certificate.Certificate.Thumbprint, tls.RemoteCertificate!.GetCertHashString());

        var topic = $"team:{Guid.NewGuid():N}/tls";
        var (connected, __) = await TestClient.ConnectAsync(client, GatewayServer.MintToken("tls-user", subscribe: ["team:*"], publish: ["team:*"]));
        Assert.Same(client, connected);
        await client.SendAsync(Frames.Subscribe(1, topic));
        Assert.Equal(FrameKind.Subscribed, (await client.ReceiveAsync()).Kind);

        await client.SendAsync(Frames.Publish(2, topic, "over tls"));
        var frames = new List<ReceivedFrame> { await client.ReceiveAsync(), await client.ReceiveAsync() };
        var ack = Assert.Single(frames, f => f.Kind == FrameKind.PublishAck);
        var message = Assert.Single(frames, f => f.Kind == FrameKind.Message);
        Assert.Equal(2u, ack.CorrelationId);
        Assert.Equal("over tls", message.PayloadText);
        Assert.Equal(ack.Offset, message.Offset);
    }

    [Fact]
    public async Task A_plaintext_hello_on_the_tls_port_gets_an_error_frame_and_tls_clients_are_still_served()
    {
        await using var server = await GatewayServer.StartAsync(TlsSettings("pfx"));
        using (var plain = new TcpClient())
        {
            await plain.ConnectAsync(server.TcpEndPoint!);
            var stream = plain.GetStream();
            await stream.WriteAsync(ProtocolVersion.TcpHello.ToArray());
            using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
            var received = new MemoryStream();
            await stream.CopyToAsync(received, timeout.Token); // until the server closes

            var bytes = new ReadOnlySequence<byte>(received.ToArray());
            Assert.True(FrameReader.TryRead(bytes, ProtocolLimits.Default, out var frame, out var end), $"not a frame: {Convert.ToHexString(received.ToArray())}");
            var error = ReceivedFrame.From(frame);
            Assert.Equal(bytes.End, end);
            Assert.Equal(FrameKind.Error, error.Kind);
            Assert.Equal(ErrorCode.MalformedFrame, error.ErrorCode);
            Assert.Contains("requires TLS", error.Text2, StringComparison.Ordinal);
        }

        Assert.Contains(server.LogLines, l => l.Contains("refused: This port requires TLS", StringComparison.Ordinal));
        var client = await TestClient.OpenTcpAsync(server.TcpEndPoint!, async network =>
        {
            var tls = new SslStream(network);
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", RemoteCertificateValidationCallback = _certificate.Validate });
            return tls;
        });
        await using var _ = client;
        await TestClient.ConnectAsync(client, GatewayServer.MintToken("after-plain"));
    }

    [Fact]
    public async Task A_client_that_validates_against_the_system_trust_store_refuses_the_untrusted_certificate()
    {
        await using var server = await GatewayServer.StartAsync(TlsSettings("pfx"));
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.TcpEndPoint!);
        await using var tls = new SslStream(tcp.GetStream());
        await Assert.ThrowsAsync<AuthenticationException>(() => tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }));
    }

    /// <inheritdoc />
    public void Dispose() => _certificate.Dispose();

    private Dictionary<string, string?> TlsSettings(string shape) => shape == "pfx"
        ? new()
        {
            ["Gateway:Tcp:Tls:CertificatePath"] = _certificate.PfxPath,
            ["Gateway:Tcp:Tls:Password"] = TestCertificate.Password,
        }
        : new()
        {
            ["Gateway:Tcp:Tls:CertificatePath"] = _certificate.CertificatePemPath,
            ["Gateway:Tcp:Tls:KeyPath"] = _certificate.KeyPemPath,
        };
}
