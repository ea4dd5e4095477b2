using System.Net.WebSockets;
using System.Security.Cryptography;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Tests.EndToEnd;

/// <summary>Live-connection token expiry, refresh and asymmetric keys (a server with zero clock skew and an ES256 key).</summary>
public sealed class TokenLifetimeTests(TokenLifetimeTests.Fixture fixture) : IClassFixture<TokenLifetimeTests.Fixture>
{
    private readonly GatewayServer _server = fixture.Server;

    [Fact]
    public async Task A_live_connection_is_closed_with_token_expired_when_its_token_expires()
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("shortlived", lifetime: TimeSpan.FromSeconds(4)));
        await using var _c = client;
        var (frames, status) = await client.ReadUntilClosedAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(ErrorCode.TokenExpired, frames.Single(f => f.Kind == FrameKind.Error).ErrorCode);
        Assert.Equal((WebSocketCloseStatus)4002, status);
    }

    [Fact]
    public async Task Refresh_extends_a_live_connection_past_the_first_tokens_expiry()
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("refresher", lifetime: TimeSpan.FromSeconds(4)));
        await using var _c = client;
        var fresh = GatewayServer.MintToken("refresher", lifetime: TimeSpan.FromHours(1));
        await client.SendAsync(w => FrameWriter.WriteRefresh(w, 77, fresh));
        var refreshed = await client.ReceiveAsync();
        Assert.Equal(FrameKind.Refreshed, refreshed.Kind);
        Assert.Equal(77u, refreshed.CorrelationId);
        Assert.True(refreshed.Value > DateTimeOffset.UtcNow.AddMinutes(50).ToUnixTimeSeconds());

        // Wait past the first token's expiry (the behaviour under test is time-based), then prove the connection lives.
        await Task.Delay(TimeSpan.FromSeconds(5));
        await client.SendAsync(w => FrameWriter.WritePing(w, 9));
        var pong = await client.ReceiveAsync();
        Assert.Equal(FrameKind.Pong, pong.Kind);
    }

    [Fact]
    public async Task Refresh_with_another_users_token_closes_the_connection()
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("victim"));
        await using var _c = client;
        await client.SendAsync(w => FrameWriter.WriteRefresh(w, 3, GatewayServer.MintToken("intruder")));
        var (frames, status) = await client.ReadUntilClosedAsync();
        var error = frames.Single(f => f.Kind == FrameKind.Error);
        Assert.Equal(ErrorCode.Unauthorized, error.ErrorCode);
        Assert.Equal(3u, error.CorrelationId);
        Assert.Equal((WebSocketCloseStatus)4001, status);
    }

    [Fact]
    public async Task Es256_tokens_signed_by_the_configured_public_key_are_accepted()
    {
        var handler = new JsonWebTokenHandler();
        var token = handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = GatewayServer.Issuer,
            Audience = GatewayServer.Audience,
            Claims = new Dictionary<string, object> { ["sub"] = "ecuser", ["subscribe"] = new[] { "team:*" } },
            Expires = DateTime.UtcNow.AddMinutes(10),
            SigningCredentials = new SigningCredentials(new ECDsaSecurityKey(fixture.EcKey) { KeyId = "ec" }, SecurityAlgorithms.EcdsaSha256),
        });
        var (client, connected) = await TestClient.ConnectAsync(_server, token, tcp: true);
        await using var _c = client;
        Assert.Equal("ecuser", connected.Text3);
    }

    public sealed class Fixture : ServerFixture
    {
        public ECDsa EcKey { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Gateway:Auth:ClockSkew"] = "00:00:00",
            ["Gateway:Auth:SigningKeys:1:Id"] = "ec",
            ["Gateway:Auth:SigningKeys:1:Algorithm"] = "ES256",
            ["Gateway:Auth:SigningKeys:1:PublicKeyPem"] = EcKey.ExportSubjectPublicKeyInfoPem(),
        };
    }
}
