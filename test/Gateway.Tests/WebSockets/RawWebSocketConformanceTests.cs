using System.Text;
using Gateway.Hosting;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Protocol.WebSockets;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.WebSockets;

/// <summary>
/// RFC 6455 conformance of the raw transport with a client that writes bytes by hand: fragments, control frames
/// between fragments, close from either side, resets, every violation and its close code, splits at every byte.
/// </summary>
public sealed class RawWebSocketConformanceTests(RawWebSocketConformanceTests.Fixture fixture) : IClassFixture<RawWebSocketConformanceTests.Fixture>
{
    private const int MaxMessageBytes = 2048;
    private readonly GatewayServer _server = fixture.Server;

    private static byte[] Connect(string user) => RawBytesWebSocketClient.Protocol(w => FrameWriter.WriteConnect(w, 1, GatewayServer.MintToken(user), "raw-bytes"));

    private static byte[] Ping(long nonce) => RawBytesWebSocketClient.Protocol(w => FrameWriter.WritePing(w, nonce));

    private static byte[] Binary(byte[] payload, bool fin = true) => RawBytesWebSocketClient.Frame(WebSocketOpcode.Binary, payload, fin);

    private static byte[] Continuation(byte[] payload, bool fin = true) => RawBytesWebSocketClient.Frame(WebSocketOpcode.Continuation, payload, fin);

    private async Task<RawBytesWebSocketClient> ConnectedAsync(string user)
    {
        var client = await RawBytesWebSocketClient.OpenUpgradedAsync(_server);
        await client.WriteAsync(Binary(Connect(user)));
        Assert.Equal(FrameKind.Connected, (await client.ReceiveProtocolFrameAsync()).Kind);
        return client;
    }

    private static async Task ExpectPongAsync(RawBytesWebSocketClient client, long nonce)
    {
        var pong = await client.ReceiveProtocolFrameAsync(f => f.Kind == FrameKind.Pong);
        Assert.Equal(nonce, pong.Value);
    }

    [Fact]
    public async Task Handshake_answers_101_with_accept_key_and_subprotocol_and_refuses_compression()
    {
        var client = await RawBytesWebSocketClient.OpenUpgradedAsync(_server, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
        await using var _ = client;
        await client.WriteAsync(Binary(Connect("handshake")));
        Assert.Equal(FrameKind.Connected, (await client.ReceiveProtocolFrameAsync()).Kind);
    }

    [Fact]
    public async Task A_message_in_fragments_with_pings_between_them_is_one_message_and_each_ping_is_answered()
    {
        var client = await RawBytesWebSocketClient.OpenUpgradedAsync(_server);
        await using var _ = client;
        var connect = Connect("fragments");
        // Connect cut into three fragments; the protocol frame itself spans all three. A ping between each.
        var third = connect.Length / 3;
        await client.WriteAsync(Binary(connect[..third], fin: false));
        await client.WriteAsync(RawBytesWebSocketClient.Frame(WebSocketOpcode.Ping, "p1"u8));
        var pong1 = await client.ReadFrameAsync();
        Assert.Equal(WebSocketOpcode.Pong, pong1!.Value.Header.Opcode);
        Assert.Equal("p1"u8.ToArray(), pong1.Value.Payload);
        await client.WriteAsync([.. Continuation(connect[third..(2 * third)], fin: false), .. RawBytesWebSocketClient.Frame(WebSocketOpcode.Ping, "p2"u8), .. RawBytesWebSocketClient.Frame(WebSocketOpcode.Pong, "unsolicited"u8)]);
        var pong2 = await client.ReadFrameAsync();
        Assert.Equal("p2"u8.ToArray(), pong2!.Value.Payload);
        await client.WriteAsync(Continuation(connect[(2 * third)..]));
        Assert.Equal(FrameKind.Connected, (await client.ReceiveProtocolFrameAsync()).Kind);

        // Several protocol frames in one message, and empty fragments, are fine too.
        await client.WriteAsync([.. Binary([.. Ping(1), .. Ping(2)], fin: false), .. Continuation([], fin: false), .. Continuation(Ping(3))]);
        await ExpectPongAsync(client, 1);
        await ExpectPongAsync(client, 2);
        await ExpectPongAsync(client, 3);
    }

    [Fact]
    public async Task A_message_written_split_at_every_byte_boundary_is_read_whole()
    {
        var client = await ConnectedAsync("split-writes");
        await using var _ = client;
        var message = Binary([.. Ping(7), .. Ping(8)]);
        for (var cut = 1; cut < message.Length; cut++)
        {
            await client.WritePartAsync(message.AsMemory(0, cut));
            await Task.Delay(2); // let the server see the first part alone
            await client.WritePartAsync(message.AsMemory(cut));
            await ExpectPongAsync(client, 7);
            await ExpectPongAsync(client, 8);
        }
    }

    [Fact]
    public async Task A_protocol_frame_split_into_fragments_at_every_byte_is_reassembled()
    {
        var client = await ConnectedAsync("split-fragments");
        await using var _ = client;
        var frames = (byte[])[.. Ping(11), .. Ping(12)];
        for (var cut = 0; cut <= frames.Length; cut++)
        {
            await client.WriteAsync([.. Binary(frames[..cut], fin: false), .. Continuation(frames[cut..])]);
            await ExpectPongAsync(client, 11);
            await ExpectPongAsync(client, 12);
        }
    }

    [Fact]
    public async Task Client_close_is_echoed_with_its_code_and_reason_then_the_server_ends_the_connection()
    {
        var client = await ConnectedAsync("client-close");
        await using var _ = client;
        await client.WriteAsync(RawBytesWebSocketClient.Frame(WebSocketOpcode.Close, RawBytesWebSocketClient.ClosePayload(4000, "bye now")));
        var close = await client.ReadCloseAsync();
        Assert.Equal((ushort)4000, close!.Value.Code);
        Assert.Equal("bye now", close.Value.Reason);
        Assert.True(await client.EndsAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Server_close_sends_the_error_then_the_close_code_and_ends_after_the_clients_close()
    {
        var client = await RawBytesWebSocketClient.OpenUpgradedAsync(_server);
        await using var _ = client;
        // A garbage protocol frame (unknown kind): Error malformed_frame/unknown, then the catalog's close code.
        await client.WriteAsync(Binary([0, 0, 0, 0, 0x7F, 0]));
        var error = await client.ReceiveProtocolFrameAsync(f => f.Kind == FrameKind.Error);
        var close = await client.ReadCloseAsync();
        Assert.Equal(ErrorCatalog.Get(error.ErrorCode).CloseCode, close!.Value.Code);
        Assert.Equal(ErrorCatalog.Get(error.ErrorCode).Name, close.Value.Reason);
        await client.WriteAsync(RawBytesWebSocketClient.Frame(WebSocketOpcode.Close, RawBytesWebSocketClient.ClosePayload(close.Value.Code, "")));
        Assert.True(await client.EndsAsync(TimeSpan.FromSeconds(1.5))); // promptly, not after the 2 s drain bound
    }

    public static TheoryData<string, byte[], ushort> Violations()
    {
        var ping = RawBytesWebSocketClient.Frame(WebSocketOpcode.Ping, "x"u8);
        // The first 1000 bytes of a 1006-byte protocol frame (within MaxFrameLength): nothing is decided before the second fragment.
        var partial = new byte[1000];
        partial[2] = 0x03;
        partial[3] = 0xE8;
        partial[4] = (byte)FrameKind.Connect;
        return new()
        {
            { "reserved bit RSV1", RawBytesWebSocketClient.Frame(WebSocketOpcode.Binary, "x"u8, firstByteBits: 0x40), 1002 },
            { "reserved bit RSV3", RawBytesWebSocketClient.Frame(WebSocketOpcode.Binary, "x"u8, firstByteBits: 0x10), 1002 },
            { "unknown opcode 3", RawBytesWebSocketClient.Frame(WebSocketOpcode.Binary, "x"u8, rawOpcode: 3), 1002 },
            { "unknown opcode 0xB", RawBytesWebSocketClient.Frame(WebSocketOpcode.Binary, "x"u8, rawOpcode: 0xB), 1002 },
            { "unmasked client frame", RawBytesWebSocketClient.Frame(WebSocketOpcode.Binary, "x"u8, masked: false), 1002 },
            { "ping over 125 bytes", RawBytesWebSocketClient.Frame(WebSocketOpcode.Ping, new byte[126]), 1002 },
            { "fragmented ping", RawBytesWebSocketClient.Frame(WebSocketOpcode.Ping, "x"u8, fin: false), 1002 },
            { "continuation without a message", RawBytesWebSocketClient.Frame(WebSocketOpcode.Continuation, "x"u8), 1002 },
            { "new message inside a fragmented one", [.. RawBytesWebSocketClient.Frame(WebSocketOpcode.Binary, "x"u8, fin: false), .. ping, .. RawBytesWebSocketClient.Frame(WebSocketOpcode.Binary, "y"u8)], 1002 },
            { "close with one byte", RawBytesWebSocketClient.Frame(WebSocketOpcode.Close, [3]), 1002 },
            { "close with code 1005", RawBytesWebSocketClient.Frame(WebSocketOpcode.Close, [0x03, 0xED]), 1002 },
            { "close reason not UTF-8", RawBytesWebSocketClient.Frame(WebSocketOpcode.Close, [0x03, 0xE8, 0xC3, 0x28]), 1007 },
            { "text message", RawBytesWebSocketClient.Frame(WebSocketOpcode.Text, "hello"u8), 1003 },
            { "message over the limit", RawBytesWebSocketClient.Frame(WebSocketOpcode.Binary, new byte[MaxMessageBytes + 1]), 1009 },
            { "fragmented message over the limit", [.. RawBytesWebSocketClient.Frame(WebSocketOpcode.Binary, partial, fin: false), .. RawBytesWebSocketClient.Frame(WebSocketOpcode.Continuation, new byte[MaxMessageBytes - partial.Length + 1])], 1009 },
            { "protocol frame spanning two messages", [.. RawBytesWebSocketClient.Frame(WebSocketOpcode.Binary, Ping(1).AsSpan(0, 5)), .. RawBytesWebSocketClient.Frame(WebSocketOpcode.Binary, Ping(1).AsSpan(5))], ErrorCatalog.Get(ErrorCode.MalformedFrame).CloseCode },
        };
    }

    [Theory]
    [MemberData(nameof(Violations))]
    public async Task Every_violation_is_closed_with_its_close_code(string violation, byte[] bytes, ushort expected)
    {
        var client = await RawBytesWebSocketClient.OpenUpgradedAsync(_server);
        await using var _ = client;
        await client.WriteAsync(bytes);
        var close = await client.ReadCloseAsync();
        Assert.True(close is not null, violation);
        Assert.Equal(expected, close.Value.Code);
        Assert.True(await client.EndsAsync(TimeSpan.FromSeconds(5)), violation);
    }

    [Fact]
    public async Task An_abrupt_reset_mid_frame_ends_the_connection_and_the_server_keeps_serving()
    {
        var registry = _server.GetRequiredService<ConnectionRegistry>();
        var client = await ConnectedAsync("reset");
        var before = registry.Count;
        await client.WritePartAsync(Binary(Ping(1), fin: false).AsMemory(0, 4));
        client.Reset();
        await client.DisposeAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (registry.Count >= before && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.True(registry.Count < before);
        var next = await ConnectedAsync("after-reset");
        await using var _ = next;
        await next.WriteAsync(Binary(Ping(5)));
        await ExpectPongAsync(next, 5);
    }

    [Fact]
    public async Task Oversized_and_garbage_upgrade_heads_and_bad_keys_are_refused_with_431_and_400()
    {
        var big = await RawBytesWebSocketClient.OpenAsync(_server, $"X-Padding: {new string('a', 9000)}\r\n");
        await using (big)
        {
            Assert.StartsWith("HTTP/1.1 431 ", big.ResponseHead, StringComparison.Ordinal);
            Assert.Contains("X-ArchMesh-Error: request_head_too_large", big.ResponseHead, StringComparison.Ordinal);
        }

        var garbage = await RawBytesWebSocketClient.OpenAsync(_server, "no colon here\r\n");
        await using (garbage)
        {
            Assert.StartsWith("HTTP/1.1 400 ", garbage.ResponseHead, StringComparison.Ordinal);
            Assert.Contains("X-ArchMesh-Error: bad_request", garbage.ResponseHead, StringComparison.Ordinal);
        }

        var badKey = await RawBytesWebSocketClient.OpenAsync(_server, key: "short");
        await using (badKey)
        {
            Assert.StartsWith("HTTP/1.1 400 ", badKey.ResponseHead, StringComparison.Ordinal);
            Assert.Contains("X-ArchMesh-Error: not_websocket", badKey.ResponseHead, StringComparison.Ordinal);
            Assert.Contains("only accepts WebSocket upgrades", await badKey.ReadRestAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Http_requests_on_the_same_listener_are_untouched()
    {
        using var http = _server.CreateHttpClient();
        using var health = await http.GetAsync(new Uri(_server.HttpAddress, "health/live"));
        Assert.True(health.IsSuccessStatusCode);
        using var plain = await http.GetAsync(new Uri(_server.HttpAddress, "ws?x=1"));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, plain.StatusCode);
        Assert.Equal("not_websocket", plain.Headers.GetValues("X-ArchMesh-Error").Single());
        Assert.Contains("archmesh.v1", Encoding.UTF8.GetString(await plain.Content.ReadAsByteArrayAsync()), StringComparison.Ordinal);
    }

    public sealed class Fixture : ServerFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Gateway:WebSocket:Transport"] = "raw",
            ["Gateway:WebSocket:MaxMessageBytes"] = MaxMessageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Gateway:Limits:MaxFrameLength"] = "1024",
        };
    }
}
