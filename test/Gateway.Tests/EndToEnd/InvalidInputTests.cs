using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Gateway.Dispatch;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>Hostile input (§10): every invalid golden vector, text, oversize, resets: documented errors, and the node keeps serving.</summary>
public sealed class InvalidInputTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private readonly GatewayServer _server = fixture.Server;

    public static TheoryData<string, string, int> InvalidVectors()
    {
        var data = new TheoryData<string, string, int>();
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(FindVectors(), "invalid.json")));
        foreach (var vector in document.RootElement.GetProperty("vectors").EnumerateArray())
        {
            if (vector.TryGetProperty("error", out var error))
            {
                data.Add(vector.GetProperty("name").GetString()!, vector.GetProperty("hex").GetString()!, error.GetProperty("code").GetInt32());
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(InvalidVectors))]
    public async Task Every_invalid_vector_after_connect_gets_its_error_and_close_code_while_another_client_is_served(string name, string hex, int code)
    {
        var (healthy, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("healthy"));
        await using var _h = healthy;
        var (bad, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("fuzzer"));
        await using var _b = bad;

        await bad.SendRawAsync(Convert.FromHexString(hex));
        var (frames, status) = await bad.ReadUntilClosedAsync();
        var error = frames.Single(f => f.Kind == FrameKind.Error);
        Assert.True((ErrorCode)code == error.ErrorCode, $"{name}: expected {ErrorCatalog.Get((ErrorCode)code).Name}, got {error}");
        Assert.Equal((WebSocketCloseStatus)ErrorCatalog.Get((ErrorCode)code).CloseCode, status);

        await healthy.SendAsync(w => FrameWriter.WritePing(w, 1));
        Assert.Equal(FrameKind.Pong, (await healthy.ReceiveAsync()).Kind);
    }

    [Fact]
    public async Task Invalid_frame_over_tcp_gets_the_error_frame_then_end_of_stream()
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("tcpfuzz"), tcp: true);
        await using var _c = client;
        await client.SendRawAsync(new byte[] { 0, 0, 0, 1, 0x7F, 0, 0 });
        var (frames, _) = await client.ReadUntilClosedAsync();
        Assert.Equal(ErrorCode.UnknownFrameKind, frames.Single().ErrorCode);
    }

    [Fact]
    public async Task Text_message_closes_with_1003()
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("texter"));
        await using var _c = client;
        await client.SendRawAsync(Encoding.UTF8.GetBytes("hello"), WebSocketMessageType.Text);
        var (frames, status) = await client.ReadUntilClosedAsync();
        Assert.Equal(ErrorCode.TextNotSupported, frames.Single().ErrorCode);
        Assert.Equal(WebSocketCloseStatus.InvalidMessageType, status);
    }

    [Fact]
    public async Task Oversize_frame_closes_with_1009_before_its_body_is_buffered()
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("bigsender"));
        await using var _c = client;
        // Header only: declared length 1 MiB (over the 64 KiB limit). The server refuses without waiting for the body.
        await client.SendRawAsync(new byte[] { 0, 0x10, 0, 0, (byte)FrameKind.Publish, 0 }, endOfMessage: false);
        var (frames, status) = await client.ReadUntilClosedAsync();
        Assert.Equal(ErrorCode.FrameTooLarge, frames.Single().ErrorCode);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, status);
    }

    [Fact]
    public async Task A_frame_spanning_two_websocket_messages_is_a_protocol_error()
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("splitter"));
        await using var _c = client;
        var ping = new System.Buffers.ArrayBufferWriter<byte>();
        FrameWriter.WritePing(ping, 5);
        await client.SendRawAsync(ping.WrittenMemory[..7]);
        await client.SendRawAsync(ping.WrittenMemory[7..]);
        var (frames, status) = await client.ReadUntilClosedAsync();
        Assert.Equal(ErrorCode.MalformedFrame, frames.Single().ErrorCode);
        Assert.Equal(WebSocketCloseStatus.ProtocolError, status);
    }

    [Fact]
    public async Task Several_frames_in_one_message_are_all_handled()
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("batcher"));
        await using var _c = client;
        await client.SendAsync(w =>
        {
            FrameWriter.WritePing(w, 1);
            FrameWriter.WritePing(w, 2);
            FrameWriter.WritePing(w, 3);
        });
        var nonces = new List<long>();
        for (var i = 0; i < 3; i++)
        {
            nonces.Add((await client.ReceiveAsync()).Value);
        }

        Assert.Equal([1L, 2L, 3L], nonces);
    }

    [Fact]
    public async Task Abrupt_reset_mid_frame_removes_the_session_and_the_node_keeps_serving()
    {
        var dispatcher = _server.GetRequiredService<Dispatcher>();
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(_server.TcpEndPoint!);
            var stream = tcp.GetStream();
            await stream.WriteAsync(ProtocolVersion.TcpHello.ToArray());
            await stream.ReadExactlyAsync(new byte[6]);
            var connect = new System.Buffers.ArrayBufferWriter<byte>();
            FrameWriter.WriteConnect(connect, 1, GatewayServer.MintToken("resetter-" + Guid.NewGuid().ToString("N")), "tests");
            await stream.WriteAsync(connect.WrittenMemory);
            var header = new byte[6];
            await stream.ReadExactlyAsync(header);
            Assert.Equal((byte)FrameKind.Connected, header[4]);
            await WaitUntilAsync(() => dispatcher.SnapshotSessions().Any(s => s.UserId?.StartsWith("resetter-", StringComparison.Ordinal) == true));

            // Half a Publish frame, then RST.
            await stream.WriteAsync(new byte[] { 0, 0, 0, 40, (byte)FrameKind.Publish, 0, 0, 0 });
            tcp.Client.LingerState = new LingerOption(true, 0);
        }

        await WaitUntilAsync(() => !dispatcher.SnapshotSessions().Any(s => s.UserId?.StartsWith("resetter-", StringComparison.Ordinal) == true));
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("after-reset"), tcp: true);
        await using var _c = client;
        await client.SendAsync(w => FrameWriter.WritePing(w, 8));
        Assert.Equal(FrameKind.Pong, (await client.ReceiveAsync()).Kind);
    }

    [Theory]
    [InlineData("414D53480002", ErrorCode.UnsupportedVersion)]
    [InlineData("474554202F20", ErrorCode.MalformedFrame)]
    public async Task Tcp_hello_with_wrong_version_or_magic_gets_an_error_frame(string hello, ErrorCode expected)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(_server.TcpEndPoint!);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Convert.FromHexString(hello));
        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        var received = new MemoryStream();
        await stream.CopyToAsync(received, timeout.Token);
        var frame = ReadSingleFrame(received.ToArray());
        Assert.Equal(FrameKind.Error, frame.Kind);
        Assert.Equal(expected, frame.ErrorCode);
    }

    internal static ReceivedFrame ReadSingleFrame(byte[] bytes)
    {
        var reader = new System.Buffers.SequenceReader<byte>(new System.Buffers.ReadOnlySequence<byte>(bytes));
        Assert.True(FrameReader.TryRead(ref reader, ProtocolLimits.Default, out var frame), "no whole frame received");
        return ReceivedFrame.From(frame);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TestClient.DefaultTimeout);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached in time");
            await Task.Delay(20);
        }
    }

    private static string FindVectors()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "test", "vectors");
            if (File.Exists(Path.Combine(candidate, "invalid.json")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("test/vectors not found above " + AppContext.BaseDirectory);
    }
}
