using System.Net.WebSockets;
using System.Text;
using Gateway.Auth;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>Tokens in the Connect frame (§5): accepted, or refused with the documented error and close code.</summary>
public sealed class AuthTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private readonly GatewayServer _server = fixture.Server;

    public static TheoryData<string, ErrorCode, int> BadTokens()
    {
        var secret = Convert.FromBase64String(GatewayServer.SigningSecret);
        var otherSecret = Encoding.ASCII.GetBytes("a-completely-different-key-32byt");
        var exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        static string B64(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var none = $"{B64("""{"alg":"none","typ":"JWT"}""")}.{B64($$"""{"sub":"mallory","iss":"archmesh","aud":"archmesh-gateway","exp":{{exp}}}""")}.";
        return new TheoryData<string, ErrorCode, int>
        {
            { TokenMinter.Mint(secret, GatewayServer.Issuer, GatewayServer.Audience, "alice", null, null, TimeSpan.FromMinutes(-5)), ErrorCode.TokenExpired, 4002 },
            { TokenMinter.Mint(otherSecret, GatewayServer.Issuer, GatewayServer.Audience, "alice", null, null, TimeSpan.FromHours(1)), ErrorCode.Unauthorized, 4001 },
            { TokenMinter.Mint(secret, GatewayServer.Issuer, "another-audience", "alice", null, null, TimeSpan.FromHours(1)), ErrorCode.Unauthorized, 4001 },
            { TokenMinter.Mint(secret, "someone-else", GatewayServer.Audience, "alice", null, null, TimeSpan.FromHours(1)), ErrorCode.Unauthorized, 4001 },
            { none, ErrorCode.Unauthorized, 4001 },
            { "not-a-jwt", ErrorCode.Unauthorized, 4001 },
            { "", ErrorCode.Unauthorized, 4001 },
        };
    }

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task Bad_tokens_get_their_error_and_close_code_and_never_reach_the_logs(string token, ErrorCode expected, int closeCode)
    {
        var client = await TestClient.OpenWebSocketAsync(_server);
        await using var _ = client;
        await client.SendAsync(w => FrameWriter.WriteConnect(w, 1, token, "tests"));
        var (frames, status) = await client.ReadUntilClosedAsync();
        var error = Assert.Single(frames);
        Assert.Equal(FrameKind.Error, error.Kind);
        Assert.Equal(expected, error.ErrorCode);
        Assert.Equal((WebSocketCloseStatus)closeCode, status);
        if (token.Length > 0)
        {
            Assert.DoesNotContain(_server.LogLines, line => line.Contains(token, StringComparison.Ordinal));
        }

        Assert.Contains(_server.LogLines, line => line.Contains("failed authentication", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bad_token_over_tcp_gets_the_error_frame_then_end_of_stream()
    {
        var client = await TestClient.OpenTcpAsync(_server);
        await using var _ = client;
        await client.SendAsync(w => FrameWriter.WriteConnect(w, 1, "garbage", "tests"));
        var (frames, _) = await client.ReadUntilClosedAsync();
        Assert.Equal(ErrorCode.Unauthorized, Assert.Single(frames).ErrorCode);
    }

    [Fact]
    public async Task A_good_token_never_appears_in_the_logs()
    {
        var token = GatewayServer.MintToken("secretive", subscribe: ["team:*"]);
        var (client, _) = await TestClient.ConnectAsync(_server, token);
        await client.SendAsync(w => FrameWriter.WriteRefresh(w, 5, token));
        Assert.Equal(FrameKind.Refreshed, (await client.ReceiveAsync()).Kind);
        await client.DisposeAsync();
        Assert.Contains(_server.LogLines, line => line.Contains("secretive", StringComparison.Ordinal));
        Assert.DoesNotContain(_server.LogLines, line => line.Contains(token, StringComparison.Ordinal));
        Assert.DoesNotContain(_server.LogLines, line => line.Contains(token.Split('.')[2], StringComparison.Ordinal));
    }

    [Fact]
    public async Task Frames_before_connect_are_refused()
    {
        var client = await TestClient.OpenWebSocketAsync(_server);
        await using var _ = client;
        await client.SendAsync(Frames.Subscribe(1, "team:a"));
        var (frames, status) = await client.ReadUntilClosedAsync();
        Assert.Equal(ErrorCode.UnexpectedFrame, Assert.Single(frames).ErrorCode);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
    }
}
