using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>Node and per-address connection caps refuse cleanly (503 / 429 / Error frame), never with a 500.</summary>
public sealed class ConnectionCapTests
{
    [Fact]
    public async Task Node_cap_refuses_websocket_with_503_and_tcp_with_an_error_frame()
    {
        await using var server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Limits:MaxConnections"] = "2",
            ["Gateway:Limits:MaxConnectionsPerIp"] = "2",
        });
        var (a, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("a"));
        var (b, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("b"), tcp: true);
        await using var _a = a;
        await using var _b = b;

        Assert.Equal(HttpStatusCode.ServiceUnavailable, await UpgradeStatusAsync(server));

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.TcpEndPoint!);
        var stream = tcp.GetStream();
        await stream.WriteAsync(ProtocolVersion.TcpHello.ToArray());
        var received = new MemoryStream();
        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        await stream.CopyToAsync(received, timeout.Token);
        Assert.Equal(ErrorCode.TooManyConnections, InvalidInputTests.ReadSingleFrame(received.ToArray()).ErrorCode);

        // A freed slot is reusable.
        await a.DisposeAsync();
        await InvalidInputTests.WaitUntilAsync(() => server.GetRequiredService<Gateway.Hosting.ConnectionLimiter>().Count < 2);
        var (c, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("c"));
        await c.DisposeAsync();
    }

    [Fact]
    public async Task Per_address_cap_refuses_with_429()
    {
        await using var server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Limits:MaxConnections"] = "10",
            ["Gateway:Limits:MaxConnectionsPerIp"] = "1",
        });
        var (a, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("a"));
        await using var _a = a;
        Assert.Equal(HttpStatusCode.TooManyRequests, await UpgradeStatusAsync(server));
    }

    private static async Task<HttpStatusCode> UpgradeStatusAsync(GatewayServer server)
    {
        using var http = new HttpClient();
        using var request = TestClient.UpgradeRequest(server);
        using var response = await http.SendAsync(request);
        Assert.Equal("too_many_connections", response.Headers.GetValues("X-ArchMesh-Error").Single());
        return response.StatusCode;
    }
}
