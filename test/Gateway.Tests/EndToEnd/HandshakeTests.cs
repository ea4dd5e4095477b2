using System.Net;
using System.Net.WebSockets;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>Refusals before the upgrade, and the Connect deadline (a server with a 1 s deadline).</summary>
public sealed class HandshakeTests(HandshakeTests.Fixture fixture) : IClassFixture<HandshakeTests.Fixture>
{
    private readonly GatewayServer _server = fixture.Server;

    [Fact]
    public async Task Origin_not_on_the_allowlist_is_refused_with_403_before_the_upgrade()
    {
        var error = await Assert.ThrowsAsync<WebSocketException>(() => TestClient.OpenWebSocketAsync(_server, origin: "https://evil.example.net"));
        Assert.Contains("403", error.Message, StringComparison.Ordinal);

        using var http = new HttpClient();
        using var request = TestClient.UpgradeRequest(_server, origin: "https://evil.example.net");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("not allowed", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Allowed_origin_connects()
    {
        var client = await TestClient.OpenWebSocketAsync(_server, origin: GatewayServer.AllowedOrigin);
        await using var _ = client;
        await client.SendAsync(w => FrameWriter.WriteConnect(w, 1, GatewayServer.MintToken("browser"), "web"));
        Assert.Equal(FrameKind.Connected, (await client.ReceiveAsync()).Kind);
    }

    [Theory]
    [InlineData("archmesh.v2")]
    [InlineData(null)]
    public async Task Unknown_or_missing_subprotocol_is_refused_with_400_and_a_reason(string? subprotocol)
    {
        using var http = new HttpClient();
        using var request = TestClient.UpgradeRequest(_server, subprotocol);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("archmesh.v1", body, StringComparison.Ordinal);
        Assert.Equal("unsupported_version", response.Headers.GetValues("X-ArchMesh-Error").Single());

        await Assert.ThrowsAsync<WebSocketException>(() => TestClient.OpenWebSocketAsync(_server, subprotocol: subprotocol));
    }

    [Fact]
    public async Task Plain_http_get_on_ws_is_400_not_500()
    {
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(_server.HttpAddress, "ws"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task No_connect_frame_is_closed_with_connect_timeout_at_the_deadline(bool tcp)
    {
        var client = tcp ? await TestClient.OpenTcpAsync(_server) : await TestClient.OpenWebSocketAsync(_server);
        await using var _ = client;
        var started = DateTime.UtcNow;
        var (frames, status) = await client.ReadUntilClosedAsync(TimeSpan.FromSeconds(20));
        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromSeconds(0.9));
        Assert.Equal(ErrorCode.ConnectTimeout, frames.Single().ErrorCode);
        if (!tcp)
        {
            Assert.Equal((WebSocketCloseStatus)4003, status);
        }
    }

    [Fact]
    public async Task A_silent_client_is_closed_with_idle_timeout()
    {
        var (client, connected) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("silent"));
        await using var _ = client;
        Assert.Equal(500u, connected.Milliseconds);
        client.AnswerPings = false;
        var (frames, status) = await client.ReadUntilClosedAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(ErrorCode.IdleTimeout, frames.Single(f => f.Kind == FrameKind.Error).ErrorCode);
        Assert.Equal((WebSocketCloseStatus)4004, status);
    }

    [Fact]
    public async Task A_client_answering_pings_stays_connected_past_the_idle_timeout()
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("chatty"));
        await using var _ = client;
        // Time-based behaviour under test: outlive the idle timeout (3 s) by answering the server's pings.
        await Task.Delay(TimeSpan.FromSeconds(4.5));
        await client.SendAsync(w => FrameWriter.WritePing(w, 4));
        Assert.Equal(FrameKind.Pong, (await client.ReceiveAsync()).Kind);
    }

    public sealed class Fixture : ServerFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Gateway:Connection:ConnectTimeout"] = "00:00:01",
            ["Gateway:Connection:HeartbeatInterval"] = "00:00:00.5",
            ["Gateway:Connection:IdleTimeout"] = "00:00:03",
        };
    }
}
