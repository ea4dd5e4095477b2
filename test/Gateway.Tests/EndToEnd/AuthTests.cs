using System.Net.Http.Json;
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

    public static TheoryData<string, bool, string> UsersWithoutATopic() => new()
    {
        { "alice smith", false, "character 5 is U+0020" },
        { "ops#1", true, "character 3 is '#'" },
        { "tab\there", false, "character 3 is U+0009" },
        { "who?", true, "character 3 is '?'" },
        { new string('€', 100), false, "300 bytes of UTF-8" }, // 100 characters (under the 200-character sub bound), 300 bytes
        { new string('€', 84), true, "252 bytes of UTF-8" },
    };

    [Theory]
    [MemberData(nameof(UsersWithoutATopic))]
    public async Task A_user_id_that_cannot_form_a_user_topic_is_refused_at_connect_with_the_reason(string user, bool tcp, string reason)
    {
        // Accepted, such a user would never get a notification: user:{id} is not a valid topic (protocol §9).
        var client = tcp ? await TestClient.OpenTcpAsync(_server) : await TestClient.OpenWebSocketAsync(_server);
        await using var _ = client;
        await client.SendAsync(w => FrameWriter.WriteConnect(w, 1, GatewayServer.MintToken(user, subscribe: ["team:*"]), "tests"));
        var (frames, status) = await client.ReadUntilClosedAsync();
        var error = Assert.Single(frames);
        Assert.Equal(ErrorCode.Unauthorized, error.ErrorCode);
        Assert.Contains("cannot form a user: topic", error.Text2, StringComparison.Ordinal);
        Assert.Contains(reason, error.Text2, StringComparison.Ordinal);
        Assert.DoesNotContain(error.Text2, char.IsControl);
        if (!tcp)
        {
            Assert.Equal((WebSocketCloseStatus)4001, status);
        }
    }

    [Fact]
    public async Task A_user_id_of_the_longest_user_topic_connects_and_gets_its_notifications()
    {
        var user = new string('é', 125); // 250 bytes: user: + 250 = 255, the topic bound
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken(user));
        await using var _c = client;
        using var http = _server.CreateHttpClient();
        var response = await http.PostAsJsonAsync("api/v1/notify", new { user, payload = "hi" });
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var message = await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Message);
        Assert.Equal("user:" + user, message.Topic);
    }
}
