using System.Net;
using System.Net.WebSockets;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.WebSockets;

/// <summary>
/// The same behaviour on both WebSocket transports (<c>Gateway:WebSocket:Transport</c> = raw | aspnet), with .NET's
/// <see cref="ClientWebSocket"/>: connect, subscribe, publish, close codes, refusals before the upgrade.
/// </summary>
public sealed class WebSocketTransportParityTests(WebSocketTransportParityTests.Fixture fixture) : IClassFixture<WebSocketTransportParityTests.Fixture>
{
    public static TheoryData<string> Transports => new() { "raw", "aspnet" };

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Connect_subscribe_publish_and_receive(string transport)
    {
        var server = fixture.For(transport);
        var topic = $"team:{Guid.NewGuid():N}";
        var (client, connected) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("parity", subscribe: ["team:*"], publish: ["team:*"]));
        await using var _ = client;
        Assert.Equal("parity", connected.Text3);
        await client.SendAsync(Frames.Subscribe(1, topic));
        Assert.Equal(FrameKind.Subscribed, (await client.ReceiveAsync()).Kind);

        // A large message (several transport reads, a 16-bit WebSocket length) both ways.
        var payload = new string('x', 40_000);
        await client.SendAsync(Frames.Publish(2, topic, payload));
        var frames = new List<ReceivedFrame> { await client.ReceiveAsync(), await client.ReceiveAsync() };
        Assert.Single(frames, f => f.Kind == FrameKind.PublishAck);
        Assert.Equal(payload, Assert.Single(frames, f => f.Kind == FrameKind.Message).PayloadText);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task A_protocol_error_closes_with_the_error_frame_and_the_catalog_close_code(string transport)
    {
        var server = fixture.For(transport);
        var (client, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("parity-error"));
        await using var _ = client;
        await client.SendRawAsync(new byte[] { 0, 0, 0, 0, 0x7F, 0 }); // a frame of an unknown kind
        var (frames, status) = await client.ReadUntilClosedAsync(TimeSpan.FromSeconds(10));
        var info = ErrorCatalog.Get(frames.Last(f => f.Kind == FrameKind.Error).ErrorCode);
        Assert.True(info.Fatal);
        Assert.Equal((WebSocketCloseStatus)info.CloseCode, status);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Text_is_refused_with_text_not_supported_and_1003(string transport)
    {
        var server = fixture.For(transport);
        var client = await TestClient.OpenWebSocketAsync(server);
        await using var _ = client;
        await client.SendRawAsync("hello"u8.ToArray(), WebSocketMessageType.Text);
        var (frames, status) = await client.ReadUntilClosedAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(ErrorCode.TextNotSupported, Assert.Single(frames).ErrorCode);
        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, status);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Client_close_completes_the_handshake(string transport)
    {
        var server = fixture.For(transport);
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("archmesh.v1");
        await socket.ConnectAsync(server.WebSocketUri, CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        Assert.Equal(WebSocketState.Closed, socket.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Refusals_before_the_upgrade_are_the_same_http_answers(string transport)
    {
        var server = fixture.For(transport);
        using var http = new HttpClient();
        using (var request = TestClient.UpgradeRequest(server, origin: "https://evil.example.net"))
        using (var response = await http.SendAsync(request))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("origin_not_allowed", response.Headers.GetValues("X-ArchMesh-Error").Single());
            Assert.Equal("text/plain; charset=utf-8", response.Content.Headers.ContentType?.ToString());
            Assert.Equal("Origin 'https://evil.example.net' is not allowed (Gateway:Auth:AllowedOrigins).\n", await response.Content.ReadAsStringAsync());
        }

        using (var request = TestClient.UpgradeRequest(server, subprotocol: "archmesh.v2"))
        using (var response = await http.SendAsync(request))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("unsupported_version", response.Headers.GetValues("X-ArchMesh-Error").Single());
            Assert.Contains("(offered: archmesh.v2)", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // The per-address cap: 429 with Retry-After.
        var clients = new List<TestClient>();
        try
        {
            // Fill the address's slots (connections of earlier tests may still be closing: stop at the first refusal).
            for (var i = 0; i < 2; i++)
            {
                try
                {
                    clients.Add(await TestClient.OpenWebSocketAsync(server));
                }
                catch (WebSocketException)
                {
                    break;
                }
            }

            using var request = TestClient.UpgradeRequest(server);
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            Assert.Equal("too_many_connections", response.Headers.GetValues("X-ArchMesh-Error").Single());
            Assert.Equal("5", response.Headers.GetValues("Retry-After").Single());
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    public sealed class Fixture : IAsyncLifetime
    {
        private GatewayServer? _raw;
        private GatewayServer? _aspnet;

        public GatewayServer For(string transport) => (transport == "raw" ? _raw : _aspnet) ?? throw new InvalidOperationException("Not started.");

        public async Task InitializeAsync()
        {
            _raw = await GatewayServer.StartAsync(Settings("raw"));
            _aspnet = await GatewayServer.StartAsync(Settings("aspnet"));
        }

        public async Task DisposeAsync()
        {
            foreach (var server in new[] { _raw, _aspnet })
            {
                if (server is not null)
                {
                    await server.DisposeAsync();
                }
            }
        }

        private static Dictionary<string, string?> Settings(string transport) => new()
        {
            ["Gateway:WebSocket:Transport"] = transport,
            ["Gateway:Limits:MaxConnectionsPerIp"] = "2",
        };
    }
}
