using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>
/// Issue 10 (4): after a fatal error the server sends the Error frame, shuts its write side down (TCP FIN /
/// WebSocket close frame) and drains the peer's input for a bounded time before closing, so a client that keeps
/// writing garbage still reads the Error frame instead of losing it to a reset. The client here is the hard case:
/// a small receive buffer it does not read while it floods, so the server's last frames are still in the server's
/// send buffer when it closes (an RST there discards them).
/// </summary>
public sealed class GracefulCloseTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const int Runs = 20;
    private const int Pings = 300;
    private const int FloodBytes = 4 * 1024 * 1024;
    private static readonly TimeSpan FloodTime = TimeSpan.FromSeconds(1.5);

    private readonly GatewayServer _server = fixture.Server;

    [Fact]
    public async Task Tcp_error_frame_arrives_in_every_run_while_the_client_floods_garbage()
    {
        var outcomes = new List<string>();
        for (var run = 0; run < Runs; run++)
        {
            outcomes.Add(await TcpRunAsync(run));
        }

        Assert.True(outcomes.All(o => o == "ok"), $"Error frame delivered in {outcomes.Count(o => o == "ok")} of {Runs} runs: {string.Join("; ", outcomes)}");
    }

    [Fact]
    public async Task WebSocket_error_frame_and_close_arrive_in_every_run_while_the_client_floods_garbage()
    {
        var outcomes = new List<string>();
        for (var run = 0; run < Runs; run++)
        {
            outcomes.Add(await WebSocketRunAsync(run));
        }

        Assert.True(outcomes.All(o => o == "ok"), $"Error frame delivered in {outcomes.Count(o => o == "ok")} of {Runs} runs: {string.Join("; ", outcomes)}");
    }

    private static byte[] Garbage()
    {
        // 0xFF... declares a 4 GiB frame: frame_too_large at once; the rest is input the server must discard.
        var garbage = new byte[64 * 1024];
        Array.Fill(garbage, (byte)0xFF);
        return garbage;
    }

    private static byte[] PingBurst()
    {
        var writer = new ArrayBufferWriter<byte>();
        for (var i = 0; i < Pings; i++)
        {
            FrameWriter.WritePing(writer, i);
        }

        return writer.WrittenSpan.ToArray();
    }

    private static string Judge(byte[] received, string ending, string? closeStatus)
    {
        var frames = Decode(received);
        var error = frames.FirstOrDefault(f => f.Kind == FrameKind.Error);
        if (error?.ErrorCode != ErrorCode.FrameTooLarge)
        {
            return $"no Error after {frames.Count(f => f.Kind == FrameKind.Pong)} pongs ({ending})";
        }

        if (frames.Count(f => f.Kind == FrameKind.Pong) != Pings || frames[^1] != error)
        {
            return $"{frames.Count(f => f.Kind == FrameKind.Pong)} pongs, Error not last ({ending})";
        }

        return closeStatus is null or "1009" ? "ok" : $"close {closeStatus}";
    }

    private static List<ReceivedFrame> Decode(byte[] bytes)
    {
        var frames = new List<ReceivedFrame>();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        var limits = new ProtocolLimits { MaxFrameLength = 16 * 1024 * 1024 };
        while (FrameReader.TryRead(ref reader, limits, out var frame))
        {
            frames.Add(ReceivedFrame.From(frame));
        }

        return frames;
    }

    /// <summary>Writes <paramref name="flood"/> until the byte or time budget is spent or a write fails; a write still pending at the deadline is left running.</summary>
    private static async Task<Task> FloodAsync(Func<int, Task> write)
    {
        var clock = Stopwatch.StartNew();
        var written = 0;
        var index = 0;
        while (written < FloodBytes && clock.Elapsed < FloodTime)
        {
            var pending = write(index++);
            var remaining = FloodTime - clock.Elapsed;
            if (remaining <= TimeSpan.Zero || await Task.WhenAny(pending, Task.Delay(remaining)) != pending)
            {
                return pending; // blocked: the server stopped reading
            }

            if (pending.IsFaulted || pending.IsCanceled)
            {
                return pending; // reset under our writes
            }

            written += 64 * 1024;
        }

        return Task.CompletedTask;
    }

    private async Task<string> TcpRunAsync(int run)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveBufferSize = 2048 };
        await socket.ConnectAsync(_server.TcpEndPoint!);
        using var stream = new NetworkStream(socket, ownsSocket: false);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await stream.WriteAsync(ProtocolVersion.TcpHello.ToArray(), timeout.Token);
        await stream.ReadExactlyAsync(new byte[ProtocolVersion.TcpHelloSize], timeout.Token);
        var connect = new ArrayBufferWriter<byte>();
        FrameWriter.WriteConnect(connect, ProtocolVersion.Current, GatewayServer.MintToken("tcp-flood-" + run), "tests");
        await stream.WriteAsync(connect.WrittenMemory, timeout.Token);
        var header = new byte[ProtocolLimits.HeaderSize];
        await stream.ReadExactlyAsync(header, timeout.Token);
        Assert.Equal((byte)FrameKind.Connected, header[4]);
        await stream.ReadExactlyAsync(new byte[(header[0] << 24) | (header[1] << 16) | (header[2] << 8) | header[3]], timeout.Token);

        // Pongs to back up the server's output, then the garbage; nothing is read until the flood ends.
        await stream.WriteAsync(PingBurst(), timeout.Token);
        var garbage = Garbage();
        var pending = await FloodAsync(_ => stream.WriteAsync(garbage, timeout.Token).AsTask());

        var received = new MemoryStream();
        string ending;
        try
        {
            await stream.CopyToAsync(received, timeout.Token);
            ending = "end of stream";
        }
        catch (IOException e)
        {
            ending = "reset: " + e.InnerException?.Message;
        }

        await pending.ContinueWith(_ => { }, TaskScheduler.Default);
        return Judge(received.ToArray(), ending, null);
    }

    private async Task<string> WebSocketRunAsync(int run)
    {
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, token) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveBufferSize = 2048 };
                await socket.ConnectAsync(context.DnsEndPoint, token);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        using var invoker = new HttpMessageInvoker(handler);
        using var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol(ProtocolVersion.WebSocketSubprotocol);
        ws.Options.KeepAliveInterval = TimeSpan.Zero;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await ws.ConnectAsync(_server.WebSocketUri, invoker, timeout.Token);
        var connect = new ArrayBufferWriter<byte>();
        FrameWriter.WriteConnect(connect, ProtocolVersion.Current, GatewayServer.MintToken("ws-flood-" + run), "tests");
        await ws.SendAsync(connect.WrittenMemory, WebSocketMessageType.Binary, true, timeout.Token);
        var first = new byte[4096];
        var connected = await ws.ReceiveAsync(first.AsMemory(), timeout.Token);
        Assert.Equal((byte)FrameKind.Connected, first[4]);
        Assert.True(connected.EndOfMessage);

        await ws.SendAsync(PingBurst(), WebSocketMessageType.Binary, true, timeout.Token);
        var garbage = Garbage();
        var text = Encoding.UTF8.GetBytes(new string('x', 1024));

        // Binary garbage and text messages (themselves a protocol error) alternate.
        var pending = await FloodAsync(i => i % 2 == 0
            ? ws.SendAsync(garbage, WebSocketMessageType.Binary, true, timeout.Token)
            : ws.SendAsync(text, WebSocketMessageType.Text, true, timeout.Token));

        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        string ending;
        string? status = null;
        try
        {
            while (true)
            {
                var result = await ws.ReceiveAsync(buffer.AsMemory(), timeout.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    status = ((int?)ws.CloseStatus)?.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    ending = "close " + status;
                    break;
                }

                received.Write(buffer, 0, result.Count);
            }
        }
        catch (WebSocketException e)
        {
            ending = "aborted: " + e.Message;
            status = "none";
        }

        await pending.ContinueWith(_ => { }, TaskScheduler.Default);
        return Judge(received.ToArray(), ending, status);
    }
}
