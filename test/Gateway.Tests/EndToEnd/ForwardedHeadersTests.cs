using System.Net;
using System.Net.WebSockets;
using Gateway.Hosting;
using Gateway.Protocol;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>
/// <c>X-Forwarded-For</c> names the client for the per-address cap on <c>/ws</c> only when the request comes
/// from a proxy listed in <c>Gateway:Http:ForwardedHeaders:KnownProxies</c>; otherwise the header is ignored.
/// Every test connects from 127.0.0.1 over real sockets, playing the load balancer.
/// </summary>
public sealed class ForwardedHeadersTests
{
    [Fact]
    public async Task From_a_known_proxy_the_per_address_cap_counts_the_forwarded_client()
    {
        await using var server = await StartAsync(knownProxy: "127.0.0.1");
        using var first = await OpenAsync(server, "10.0.0.1");
        using var second = await OpenAsync(server, "10.0.0.1");

        Assert.Equal(HttpStatusCode.TooManyRequests, await UpgradeStatusAsync(server, "10.0.0.1"));

        // Other clients behind the same proxy still connect: the proxy's own address is not what is counted.
        using var other = await OpenAsync(server, "10.0.0.2");
        using var direct = await OpenAsync(server, forwardedFor: null);
        Assert.Equal(4, server.GetRequiredService<ConnectionLimiter>().Count);

        // The refusal is logged with the client's address, not the proxy's.
        Assert.Contains(server.LogLines, l => l.Contains("refused", StringComparison.OrdinalIgnoreCase) && l.Contains("10.0.0.1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task From_a_known_network_the_rightmost_unlisted_address_is_the_client()
    {
        // The client wrote its own (forged) entry; the listed proxy appended the real one: only the last counts.
        await using var server = await StartAsync(knownProxy: "127.0.0.0/8");
        using var first = await OpenAsync(server, "192.0.2.9, 10.0.0.1");
        using var second = await OpenAsync(server, "192.0.2.10, 10.0.0.1");

        Assert.Equal(HttpStatusCode.TooManyRequests, await UpgradeStatusAsync(server, "192.0.2.11, 10.0.0.1"));
        using var other = await OpenAsync(server, "10.0.0.1, 10.0.0.3");
    }

    [Fact]
    public async Task Without_known_proxies_the_header_is_ignored_and_the_cap_counts_the_connecting_address()
    {
        await using var server = await StartAsync(knownProxy: null);
        using var first = await OpenAsync(server, "10.0.0.1");
        using var second = await OpenAsync(server, "10.0.0.2");

        // A third client address in the header does not help: every connection counts as 127.0.0.1.
        Assert.Equal(HttpStatusCode.TooManyRequests, await UpgradeStatusAsync(server, "10.0.0.3"));
        Assert.Contains(server.LogLines, l => l.Contains("refused", StringComparison.OrdinalIgnoreCase) && l.Contains("127.0.0.1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task From_a_proxy_that_is_not_listed_the_header_is_ignored()
    {
        // Loopback is trusted by ASP.NET Core's defaults; the gateway trusts only what is listed.
        await using var server = await StartAsync(knownProxy: "10.9.9.9");
        using var first = await OpenAsync(server, "10.0.0.1");
        using var second = await OpenAsync(server, "10.0.0.2");

        Assert.Equal(HttpStatusCode.TooManyRequests, await UpgradeStatusAsync(server, "10.0.0.3"));
    }

    private static Task<GatewayServer> StartAsync(string? knownProxy)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Gateway:Limits:MaxConnections"] = "10",
            ["Gateway:Limits:MaxConnectionsPerIp"] = "2",
            // The sockets stay open without a Connect frame for the length of a test.
            ["Gateway:Connection:ConnectTimeout"] = "00:01:00",
        };
        if (knownProxy is not null)
        {
            settings["Gateway:Http:ForwardedHeaders:KnownProxies:0"] = knownProxy;
        }

        return GatewayServer.StartAsync(settings);
    }

    /// <summary>Opens a real WebSocket to <c>/ws</c> carrying <paramref name="forwardedFor"/> (none when null).</summary>
    private static async Task<ClientWebSocket> OpenAsync(GatewayServer server, string? forwardedFor)
    {
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(ProtocolVersion.WebSocketSubprotocol);
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        if (forwardedFor is not null)
        {
            socket.Options.SetRequestHeader("X-Forwarded-For", forwardedFor);
        }

        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        try
        {
            await socket.ConnectAsync(server.WebSocketUri, timeout.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        Assert.Equal(WebSocketState.Open, socket.State);
        return socket;
    }

    private static async Task<HttpStatusCode> UpgradeStatusAsync(GatewayServer server, string forwardedFor)
    {
        using var http = new HttpClient();
        using var request = TestClient.UpgradeRequest(server);
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        using var response = await http.SendAsync(request);
        Assert.Equal("too_many_connections", response.Headers.GetValues("X-ArchMesh-Error").Single());
        return response.StatusCode;
    }
}
