using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using Gateway.Hosting;
using Gateway.Protocol;
using Gateway.Tests.Infrastructure;
using Gateway.Tests.Operations;
using Gateway.Tests.Shared;

namespace Gateway.Tests.Cluster;

/// <summary>
/// Issue 14: a node behind the real HAProxy of deploy/haproxy/haproxy.cfg.template (<c>option forwardfor</c>) that
/// lists HAProxy (127.0.0.1) in <c>Gateway:Http:ForwardedHeaders:KnownProxies</c> counts WebSocket connections per
/// client address. Clients connect from distinct loopback source addresses (127.0.0.2, 127.0.0.3), so the client
/// address and HAProxy's differ; a client's own forged <c>X-Forwarded-For</c> is ignored.
/// </summary>
public sealed class ForwardedThroughHaproxyTests
{
    private static readonly IPAddress ClientA = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress ClientB = IPAddress.Parse("127.0.0.3");

    [Fact]
    public async Task Behind_haproxy_the_per_address_cap_counts_each_client_not_haproxy()
    {
        var ports = HaproxyProcess.ClusterPorts.Free(1);
        await using var node = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["urls"] = $"http://127.0.0.1:{ports.NodeHttp(1)}",
            ["Gateway:Tcp:Port"] = ports.NodeTcp(1).ToString(CultureInfo.InvariantCulture),
            ["Gateway:NodeId"] = "node-1",
            ["Gateway:Http:ForwardedHeaders:KnownProxies:0"] = "127.0.0.1",
            ["Gateway:Limits:MaxConnections"] = "10",
            ["Gateway:Limits:MaxConnectionsPerIp"] = "2",
            ["Gateway:Connection:ConnectTimeout"] = "00:01:00",
        });
        await using var haproxy = await HaproxyProcess.StartAsync(1, ports);
        await OpsTestEnvironment.EventuallyAsync(
            async () => (await haproxy.ServerStatesAsync()).TryGetValue("be_ready/node-1", out var state) && state == "UP" ? state : null,
            TimeSpan.FromSeconds(15),
            "be_ready/node-1 UP");

        // Client A forges a different address each time: HAProxy's entry (the rightmost) is the one believed.
        using var a1 = await OpenAsync(haproxy.WebSocketUri, ClientA, forgedForwardedFor: "10.0.0.1");
        using var a2 = await OpenAsync(haproxy.WebSocketUri, ClientA, forgedForwardedFor: "10.0.0.2");
        Assert.Equal(HttpStatusCode.TooManyRequests, await UpgradeStatusAsync(haproxy.HttpAddress, ClientA, forgedForwardedFor: "10.0.0.3"));

        // Client B, through the same HAProxy, is not affected by A's connections.
        using var b1 = await OpenAsync(haproxy.WebSocketUri, ClientB, forgedForwardedFor: null);
        Assert.Equal(3, node.GetRequiredService<ConnectionLimiter>().Count);
        Assert.Contains(node.LogLines, l => l.Contains("refused", StringComparison.OrdinalIgnoreCase) && l.Contains("127.0.0.2", StringComparison.Ordinal));
    }

    /// <summary>An HTTP handler whose connections leave from <paramref name="source"/> (any 127.x address works on loopback).</summary>
    private static SocketsHttpHandler BoundHandler(IPAddress source) => new()
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(source, 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    private static async Task<ClientWebSocket> OpenAsync(Uri uri, IPAddress source, string? forgedForwardedFor)
    {
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(ProtocolVersion.WebSocketSubprotocol);
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        if (forgedForwardedFor is not null)
        {
            socket.Options.SetRequestHeader("X-Forwarded-For", forgedForwardedFor);
        }

        using var invoker = new HttpMessageInvoker(BoundHandler(source));
        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        try
        {
            await socket.ConnectAsync(uri, invoker, timeout.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        Assert.Equal(WebSocketState.Open, socket.State);
        return socket;
    }

    private static async Task<HttpStatusCode> UpgradeStatusAsync(Uri httpAddress, IPAddress source, string forgedForwardedFor)
    {
        using var http = new HttpClient(BoundHandler(source)) { Timeout = TestClient.DefaultTimeout };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(httpAddress, "ws"));
        request.Headers.Add("Connection", "Upgrade");
        request.Headers.Add("Upgrade", "websocket");
        request.Headers.Add("Sec-WebSocket-Version", "13");
        request.Headers.Add("Sec-WebSocket-Key", Convert.ToBase64String(new byte[16]));
        request.Headers.Add("Sec-WebSocket-Protocol", ProtocolVersion.WebSocketSubprotocol);
        request.Headers.Add("X-Forwarded-For", forgedForwardedFor);
        using var response = await http.SendAsync(request);
        Assert.Equal("too_many_connections", response.Headers.GetValues("X-ArchMesh-Error").Single());
        return response.StatusCode;
    }
}
