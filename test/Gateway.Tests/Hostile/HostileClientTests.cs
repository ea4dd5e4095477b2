using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Gateway.Tests.Hostile;

/// <summary>
/// Hostile clients (issue 14 item 11, BRIEF §10) over real sockets against one node: each case asserts the
/// documented answer (error code, close code, HTTP status, deadline) and then that a well-behaved client on the
/// same node still connects, subscribes and gets its publish back (<see cref="HostileFixture.AssertServesOthersAsync"/>).
/// EndToEnd/InvalidInputTests covers the invalid vectors one by one over ClientWebSocket after Connect; this suite
/// sends them over raw TCP and hand-written WebSocket frames, in bulk, and adds floods, dribbles and resets.
/// </summary>
/// <remarks>
/// One class over two files (the never-reading clients are in HostileWriterTests.cs) so that xunit's class-level
/// orderer (<see cref="HostileOrderer"/>) can run the RSS check after every case: xunit 2 does not order classes.
/// </remarks>
[Collection(HostileCollection.Name)]
[TestCaseOrderer(HostileOrderer.TypeName, HostileOrderer.AssemblyName)]
public sealed partial class HostileClientTests(HostileFixture fixture, ITestOutputHelper output)
{
    /// <summary>Allowed RSS growth over the suite.</summary>
    public const double AllowedRssGrowth = 0.10;

    private readonly GatewayServer _server = fixture.Server;

    [Fact]
    public async Task Oversized_declared_lengths_are_refused_on_the_header_before_and_after_connect()
    {
        uint[] lengths = [ProtocolLimits.DefaultMaxFrameLength + 1, 10 * 1024 * 1024, int.MaxValue, uint.MaxValue];
        foreach (var length in lengths)
        {
            foreach (var connectFirst in new[] { false, true })
            {
                // Only the 4 length bytes: refused before the rest of the header, let alone the body.
                var header = new byte[4];
                BinaryPrimitives.WriteUInt32BigEndian(header, length);

                var tcp = await HostileTcp.OpenAsync(_server, connectFirst ? Token("oversize-tcp") : null);
                await tcp.Stream.WriteAsync(header);
                var tcpFrames = await tcp.ReadUntilEndAsync();
                Assert.Equal(ErrorCode.FrameTooLarge, Assert.Single(tcpFrames).ErrorCode);
                tcp.Dispose();

                await using var ws = connectFirst ? await RawWebSocketClient.ConnectAsync(_server, Token("oversize-ws")) : await RawWebSocketClient.OpenAsync(_server);
                await ws.SendFrameAsync(RawWebSocketClient.Binary, header, fin: false);
                var (wsFrames, status) = await ws.ReadUntilClosedAsync();
                Assert.Equal(ErrorCode.FrameTooLarge, Assert.Single(wsFrames).ErrorCode);
                Assert.Equal(WebSocketCloseStatus.MessageTooBig, status);
            }
        }

        await CheckHealthyAsync("oversized declared lengths");
    }

    [Fact]
    public async Task Truncated_frames_end_with_frame_timeout_within_the_frame_deadline()
    {
        var publish = new ArrayBufferWriter<byte>();
        FrameWriter.WritePublish(publish, 7, Priority.Normal, "flood:truncated", new byte[100]);
        var half = publish.WrittenMemory[..(publish.WrittenCount / 2)];

        var clock = Stopwatch.StartNew();
        var tcp = await HostileTcp.OpenAsync(_server, Token("truncated-tcp"));
        await tcp.Stream.WriteAsync(half);
        var tcpFrames = await tcp.ReadUntilEndAsync(HostileFixture.FrameTimeout + HostileFixture.DeadlineSlack);
        Assert.Equal(ErrorCode.FrameTimeout, Assert.Single(tcpFrames).ErrorCode);
        AssertWithin(clock, HostileFixture.FrameTimeout, "truncated TCP frame");
        tcp.Dispose();

        // WebSocket: the message stays open (no FIN) with half a frame in it.
        clock.Restart();
        await using var ws = await RawWebSocketClient.ConnectAsync(_server, Token("truncated-ws"));
        await ws.SendFrameAsync(RawWebSocketClient.Binary, half, fin: false);
        var (wsFrames, status) = await ws.ReadUntilClosedAsync(HostileFixture.FrameTimeout + HostileFixture.DeadlineSlack);
        Assert.Equal(ErrorCode.FrameTimeout, Assert.Single(wsFrames).ErrorCode);
        Assert.Equal((WebSocketCloseStatus)4005, status);
        AssertWithin(clock, HostileFixture.FrameTimeout, "truncated WebSocket frame");

        // A message that ends inside a frame (FIN on half a frame) is malformed at once (protocol §2.1).
        await using var ended = await RawWebSocketClient.ConnectAsync(_server, Token("truncated-fin"));
        await ended.SendFrameAsync(RawWebSocketClient.Binary, half);
        var (endedFrames, endedStatus) = await ended.ReadUntilClosedAsync();
        Assert.Equal(ErrorCode.MalformedFrame, Assert.Single(endedFrames).ErrorCode);
        Assert.Equal(WebSocketCloseStatus.ProtocolError, endedStatus);

        // TCP: half a frame then the client's FIN: the node ends the session (nothing to answer; no leak).
        var finUser = "truncated-fin-" + Guid.NewGuid().ToString("N");
        var fin = await HostileTcp.OpenAsync(_server, GatewayServer.MintToken(finUser));
        await fin.Stream.WriteAsync(half);
        fin.Tcp.Client.Shutdown(SocketShutdown.Send);
        await fin.ReadUntilEndAsync();
        fin.Dispose();
        await WaitUntilAsync(() => !fixture.HasSession(finUser), "session of a client that sent FIN mid-frame removed");

        await CheckHealthyAsync("truncated frames");
    }

    [Fact]
    public async Task Every_invalid_vector_over_raw_tcp_gets_its_error_or_the_frame_deadline()
    {
        var vectors = LoadVectors("invalid.json").ToList();
        Assert.NotEmpty(vectors);

        // All at once, one connection each: the node faces every kind of broken frame concurrently.
        var results = await Task.WhenAll(vectors.Select(async v =>
        {
            var tcp = await HostileTcp.OpenAsync(_server, Token("vector-tcp"));
            try
            {
                await tcp.Stream.WriteAsync(Convert.FromHexString(v.Hex));
                var frames = await tcp.ReadUntilEndAsync(HostileFixture.FrameTimeout + HostileFixture.DeadlineSlack + TestClient.DefaultTimeout);
                return (v, frames);
            }
            finally
            {
                tcp.Dispose();
            }
        }));

        foreach (var (vector, frames) in results)
        {
            var error = frames.Where(f => f.Kind == FrameKind.Error).ToList();
            // "needMore" vectors end inside a frame: on TCP the node waits, then the frame deadline ends it (§3.1).
            var expected = vector.ErrorCode ?? ErrorCode.FrameTimeout;
            Assert.True(error.Count == 1 && error[0].ErrorCode == expected, $"{vector.Name}: expected {ErrorCatalog.Get(expected).Name}, got {string.Join(", ", frames)}");
        }

        output.WriteLine($"{results.Length} invalid vectors over TCP: each answered with its documented error");
        await CheckHealthyAsync("invalid vectors over TCP");
    }

    [Fact]
    public async Task Every_server_only_frame_kind_from_the_valid_vectors_is_unexpected_from_a_client()
    {
        string[] serverOnly = ["Connected", "Subscribed", "Unsubscribed", "PublishAck", "Message", "GoAway", "Refreshed"];
        var vectors = LoadVectors("valid.json").Where(v => v.FirstKind is { } kind && serverOnly.Contains(kind)).ToList();
        Assert.Equal(serverOnly.Length, vectors.Select(v => v.FirstKind).Distinct().Count());

        foreach (var vector in vectors)
        {
            await using var ws = await RawWebSocketClient.ConnectAsync(_server, Token("server-kinds"));
            await ws.SendFrameAsync(RawWebSocketClient.Binary, Convert.FromHexString(vector.Hex));
            var (frames, status) = await ws.ReadUntilClosedAsync();
            Assert.True(frames.Count == 1 && frames[0].ErrorCode == ErrorCode.UnexpectedFrame, $"{vector.Name}: got {string.Join(", ", frames)}");
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        }

        output.WriteLine($"{vectors.Count} server-only vectors sent by a client: unexpected_frame, 1008");
        await CheckHealthyAsync("server-only frame kinds");
    }

    [Fact]
    public async Task Text_messages_close_with_1003_before_connect_and_when_fragmented()
    {
        await using (var before = await RawWebSocketClient.OpenAsync(_server))
        {
            await before.SendFrameAsync(RawWebSocketClient.Text, Encoding.UTF8.GetBytes("{\"type\":\"connect\"}"));
            var (frames, status) = await before.ReadUntilClosedAsync();
            Assert.Equal(ErrorCode.TextNotSupported, Assert.Single(frames).ErrorCode);
            Assert.Equal(WebSocketCloseStatus.InvalidMessageType, status);
        }

        await using (var fragmented = await RawWebSocketClient.ConnectAsync(_server, Token("texter")))
        {
            var frames = new List<byte>(RawWebSocketClient.EncodeFrame(RawWebSocketClient.Text, "h"u8, fin: false));
            for (var i = 0; i < 100; i++)
            {
                frames.AddRange(RawWebSocketClient.EncodeFrame(RawWebSocketClient.Continuation, "i"u8, fin: i == 99));
            }

            await fragmented.SendRawAsync(frames.ToArray());
            var (received, status) = await fragmented.ReadUntilClosedAsync();
            Assert.Equal(ErrorCode.TextNotSupported, Assert.Single(received).ErrorCode);
            Assert.Equal(WebSocketCloseStatus.InvalidMessageType, status);
        }

        await CheckHealthyAsync("text messages");
    }

    [Fact]
    public async Task A_10_MiB_websocket_message_is_refused_on_its_first_frame_header_with_1009()
    {
        const int size = 10 * 1024 * 1024;
        var message = new byte[size];
        // One protocol frame declaring the whole message as its body: refused on the header, nothing buffered.
        BinaryPrimitives.WriteUInt32BigEndian(message, size - ProtocolLimits.HeaderSize);
        message[4] = (byte)FrameKind.Publish;

        await using var ws = await RawWebSocketClient.ConnectAsync(_server, Token("big-message"));
        var send = ws.SendLargeFrameAsync(RawWebSocketClient.Binary, message);
        var (frames, status) = await ws.ReadUntilClosedAsync();
        // The raw transport refuses the WebSocket message on its header (over Gateway:WebSocket:MaxMessageBytes) before any
        // protocol frame is parsed, so no Error frame; the ASP.NET path answers frame_too_large first. Both close with 1009.
        Assert.True(frames.Count == 0 || (frames.Count == 1 && frames[0].ErrorCode == ErrorCode.FrameTooLarge), $"{frames.Count} frames before the close");
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, status);
        await send.ContinueWith(_ => { }, TaskScheduler.Default); // the node may stop reading (RST) before all 10 MiB are sent

        await CheckHealthyAsync("10 MiB WebSocket message");
    }

    [Fact]
    public async Task Thousands_of_tiny_continuation_frames_are_reassembled_and_answered()
    {
        await using var ws = await RawWebSocketClient.ConnectAsync(_server, Token("fragments"));

        // 300 Pings (4,200 bytes) as one binary message of 4,200 one-byte WebSocket frames.
        var pings = new ArrayBufferWriter<byte>();
        for (var i = 1; i <= 300; i++)
        {
            FrameWriter.WritePing(pings, i);
        }

        var wire = new List<byte>();
        var bytes = pings.WrittenSpan.ToArray();
        for (var i = 0; i < bytes.Length; i++)
        {
            wire.AddRange(RawWebSocketClient.EncodeFrame(i == 0 ? RawWebSocketClient.Binary : RawWebSocketClient.Continuation, bytes.AsSpan(i, 1), fin: i == bytes.Length - 1));
        }

        // Then 5,000 empty continuation frames around one Ping.
        wire.AddRange(RawWebSocketClient.EncodeFrame(RawWebSocketClient.Binary, [], fin: false));
        for (var i = 0; i < 5000; i++)
        {
            wire.AddRange(RawWebSocketClient.EncodeFrame(RawWebSocketClient.Continuation, [], fin: false));
        }

        var last = new ArrayBufferWriter<byte>();
        FrameWriter.WritePing(last, 301);
        wire.AddRange(RawWebSocketClient.EncodeFrame(RawWebSocketClient.Continuation, last.WrittenSpan, fin: true));
        await ws.SendRawAsync(wire.ToArray());

        var nonces = new List<long>();
        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        while (nonces.Count < 301)
        {
            var frames = await ws.ReadMessageAsync(timeout.Token);
            Assert.NotNull(frames);
            nonces.AddRange(frames.Where(f => f.Kind == FrameKind.Pong).Select(f => f.Value));
        }

        Assert.Equal(Enumerable.Range(1, 301).Select(i => (long)i), nonces);
        output.WriteLine($"{wire.Count} bytes in {bytes.Length + 5002} WebSocket frames: 301 Pongs in order");
        await CheckHealthyAsync("tiny continuation frames");
    }

    [Fact]
    public async Task Slowloris_http_handshake_is_closed_by_kestrels_request_headers_timeout()
    {
        using var tcp = new TcpClient { NoDelay = true };
        var endPoint = RawWebSocketClient.EndPointOf(_server);
        await tcp.ConnectAsync(endPoint);
        var stream = tcp.GetStream();
        // Padded so that dribbling the whole head would take a minute, twice the deadline.
        var request = RawWebSocketClient.UpgradeRequest(endPoint, padding: 1200);
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();
        var dribble = Task.Run(async () =>
        {
            // One byte every 50 ms: the whole request would take ~request.Length / 20 s.
            foreach (var b in request)
            {
                await stream.WriteAsync(new[] { b }, stop.Token);
                await Task.Delay(50, stop.Token);
            }
        });

        var answer = await ReadToEndOrResetAsync(stream, HostileFixture.RequestHeadersTimeout + HostileFixture.DeadlineSlack);
        var elapsed = clock.Elapsed;
        await stop.CancelAsync();
        await dribble.ContinueWith(_ => { }, TaskScheduler.Default);

        Assert.True(elapsed < TimeSpan.FromMilliseconds(request.Length * 50), $"the node waited for the whole dribbled request ({elapsed})");
        AssertWithin(clock, HostileFixture.RequestHeadersTimeout, "slow HTTP handshake", elapsed);
        // Kestrel answers 408 when it can, or just closes.
        Assert.True(answer.Length == 0 || answer.StartsWith("HTTP/1.1 408", StringComparison.Ordinal), "unexpected answer: " + answer);
        output.WriteLine($"slow handshake ({request.Length} bytes at 50 ms/byte) closed after {elapsed.TotalSeconds:F1} s: '{answer.Split('\r')[0]}'");
        await CheckHealthyAsync("slow HTTP handshake");
    }

    [Fact]
    public async Task Slowloris_connect_and_frames_are_closed_within_the_connect_and_frame_deadlines()
    {
        // Upgraded but the Connect frame dribbles in one byte (one WebSocket frame) every 50 ms: connect_timeout.
        var connect = new ArrayBufferWriter<byte>();
        FrameWriter.WriteConnect(connect, ProtocolVersion.Current, Token("slow-connect"), "slowloris");
        var clock = Stopwatch.StartNew();
        await using (var ws = await RawWebSocketClient.OpenAsync(_server))
        {
            using var stop = new CancellationTokenSource();
            var dribble = DribbleAsync(i => ws.SendFrameAsync(i == 0 ? RawWebSocketClient.Binary : RawWebSocketClient.Continuation, connect.WrittenMemory.Slice(i, 1), fin: i == connect.WrittenCount - 1, stop.Token), connect.WrittenCount, stop.Token);
            var (frames, status) = await ws.ReadUntilClosedAsync(HostileFixture.ConnectTimeout + HostileFixture.DeadlineSlack);
            await stop.CancelAsync();
            await dribble;
            Assert.Equal(ErrorCode.ConnectTimeout, Assert.Single(frames).ErrorCode);
            Assert.Equal((WebSocketCloseStatus)4003, status);
            AssertWithin(clock, HostileFixture.ConnectTimeout, "dribbled Connect over WebSocket");
        }

        // TCP: the hello and the Connect dribbled byte by byte: connect_timeout.
        clock.Restart();
        using (var tcp = new TcpClient { NoDelay = true })
        {
            await tcp.ConnectAsync(_server.TcpEndPoint!);
            var stream = tcp.GetStream();
            var bytes = ProtocolVersion.TcpHello.ToArray().Concat(connect.WrittenSpan.ToArray()).ToArray();
            using var stop = new CancellationTokenSource();
            var dribble = DribbleAsync(i => stream.WriteAsync(bytes.AsMemory(i, 1), stop.Token).AsTask(), bytes.Length, stop.Token);
            var received = await ReadToEndOrResetBytesAsync(stream, HostileFixture.ConnectTimeout + HostileFixture.DeadlineSlack);
            await stop.CancelAsync();
            await dribble;
            // The hello is echoed once its 6 bytes are in, then the Error.
            var errorBytes = received.AsSpan().StartsWith(ProtocolVersion.TcpHello) ? received[ProtocolVersion.TcpHelloSize..] : received;
            Assert.Equal(ErrorCode.ConnectTimeout, EndToEnd.InvalidInputTests.ReadSingleFrame(errorBytes).ErrorCode);
            AssertWithin(clock, HostileFixture.ConnectTimeout, "dribbled hello + Connect over TCP");
        }

        // After Connect: a Publish dribbled one byte every 50 ms (each byte resets the idle clock): frame_timeout.
        var publish = new ArrayBufferWriter<byte>();
        FrameWriter.WritePublish(publish, 9, Priority.Normal, "flood:slow", new byte[200]);
        await using (var ws = await RawWebSocketClient.ConnectAsync(_server, Token("slow-frame-ws")))
        {
            clock.Restart();
            using var stop = new CancellationTokenSource();
            var dribble = DribbleAsync(i => ws.SendFrameAsync(i == 0 ? RawWebSocketClient.Binary : RawWebSocketClient.Continuation, publish.WrittenMemory.Slice(i, 1), fin: i == publish.WrittenCount - 1, stop.Token), publish.WrittenCount, stop.Token);
            var (frames, status) = await ws.ReadUntilClosedAsync(HostileFixture.FrameTimeout + HostileFixture.DeadlineSlack);
            await stop.CancelAsync();
            await dribble;
            Assert.Equal(ErrorCode.FrameTimeout, Assert.Single(frames).ErrorCode);
            Assert.Equal((WebSocketCloseStatus)4005, status);
            AssertWithin(clock, HostileFixture.FrameTimeout, "dribbled frame over WebSocket");
        }

        var tcpClient = await HostileTcp.OpenAsync(_server, Token("slow-frame-tcp"));
        try
        {
            clock.Restart();
            using var stop = new CancellationTokenSource();
            var dribble = DribbleAsync(i => tcpClient.Stream.WriteAsync(publish.WrittenMemory.Slice(i, 1), stop.Token).AsTask(), publish.WrittenCount, stop.Token);
            var frames = await tcpClient.ReadUntilEndAsync(HostileFixture.FrameTimeout + HostileFixture.DeadlineSlack);
            await stop.CancelAsync();
            await dribble;
            Assert.Equal(ErrorCode.FrameTimeout, Assert.Single(frames).ErrorCode);
            AssertWithin(clock, HostileFixture.FrameTimeout, "dribbled frame over TCP");
        }
        finally
        {
            tcpClient.Dispose();
        }

        await CheckHealthyAsync("slowloris after the handshake");
    }

    [Fact]
    public async Task Subscription_flood_is_capped_with_too_many_subscriptions_and_the_connection_stays_usable()
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("subflood-" + Guid.NewGuid().ToString("N"), subscribe: ["flood:*"]));
        await using var _c = client;
        const int count = 300;
        await client.SendAsync(w =>
        {
            for (var i = 1; i <= count; i++)
            {
                FrameWriter.WriteSubscribe(w, (uint)i, $"flood:sub-{i}");
            }
        });

        var answers = new List<ReceivedFrame>();
        while (answers.Count < count)
        {
            answers.Add(await client.ReceiveAsync());
        }

        var subscribed = answers.Count(f => f.Kind == FrameKind.Subscribed);
        var refused = answers.Count(f => f.Kind == FrameKind.Error && f.ErrorCode == ErrorCode.TooManySubscriptions);
        Assert.Equal(count, subscribed + refused);
        Assert.InRange(subscribed, HostileFixture.MaxSubscriptions - 1, HostileFixture.MaxSubscriptions); // the own user topic may take one slot

        // Still usable: unsubscribe one, then the next subscribe fits again.
        await client.SendAsync(w => FrameWriter.WriteUnsubscribe(w, 1000, "flood:sub-1"));
        Assert.Equal(FrameKind.Unsubscribed, (await client.ReceiveAsync()).Kind);
        await client.SendAsync(Frames.Subscribe(1001, "flood:again"));
        Assert.Equal(FrameKind.Subscribed, (await client.ReceiveAsync()).Kind);
        output.WriteLine($"{count} subscribes: {subscribed} Subscribed, {refused} too_many_subscriptions; connection still usable");
        await CheckHealthyAsync("subscription flood");
    }

    [Fact]
    public async Task Publish_flood_over_the_rate_limit_is_refused_with_rate_limited_then_closed_with_1008()
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("pubflood-" + Guid.NewGuid().ToString("N"), publish: ["flood:*"]));
        await using var _c = client;
        // 20,000 publishes in one go: 5x the frame burst (Gateway:Limits:FrameBurst, default 4,000).
        await client.SendAsync(w =>
        {
            for (var i = 1; i <= 20_000; i++)
            {
                FrameWriter.WritePublish(w, (uint)i, Priority.Normal, "flood:publish", "x"u8);
            }
        });

        var (frames, status) = await client.ReadUntilClosedAsync(TimeSpan.FromSeconds(60));
        var acks = frames.Count(f => f.Kind == FrameKind.PublishAck);
        var limited = frames.Count(f => f.Kind == FrameKind.Error && f.ErrorCode == ErrorCode.RateLimited);
        Assert.True(acks > 0, "nothing admitted");
        Assert.True(acks < 20_000, "nothing rate limited");
        Assert.True(limited > 0, "no rate_limited error");
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        output.WriteLine($"20,000 publishes: {acks} PublishAck, {limited} rate_limited, closed {(int?)status}");
        await CheckHealthyAsync("publish flood");
    }

    [Fact]
    public async Task A_thousand_abrupt_resets_mid_frame_leave_no_session_behind()
    {
        var before = fixture.ConnectionCount;
        var partial = new byte[] { 0, 0, 0, 40, (byte)FrameKind.Publish, 0, 0, 0, 0, 1 };
        var clock = Stopwatch.StartNew();
        using var gate = new SemaphoreSlim(25);
        await Task.WhenAll(Enumerable.Range(0, 1000).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                if (i % 2 == 0)
                {
                    var tcp = await HostileTcp.OpenAsync(_server, Token("resetter"));
                    await tcp.Stream.WriteAsync(partial);
                    tcp.Reset();
                }
                else
                {
                    var ws = await RawWebSocketClient.ConnectAsync(_server, Token("resetter"));
                    await ws.SendFrameAsync(RawWebSocketClient.Binary, partial, fin: false);
                    ws.Reset();
                }
            }
            finally
            {
                gate.Release();
            }
        }));

        await WaitUntilAsync(() => fixture.ConnectionCount <= before, $"connections back to {before} after 1,000 resets", TimeSpan.FromSeconds(60));
        output.WriteLine($"1,000 resets mid-frame (500 TCP, 500 WebSocket) in {clock.Elapsed.TotalSeconds:F1} s; connections back to {fixture.ConnectionCount}");
        await CheckHealthyAsync("1,000 abrupt resets");
    }

    [Fact]
    [HostileStage(2)]
    public async Task Rss_after_the_whole_suite_and_a_forced_gc_is_within_10_percent_of_baseline()
    {
        Assert.True(fixture.Report.Count > 0, "no hostile case ran before the RSS check: run the whole class (filter Gateway.Tests.Hostile)");

        // The first pass (every case above, run by xunit) also loads and JIT-compiles every code path it touches, once:
        // that is warm-up, not a leak. So the suite runs a second time here, and THAT pass must give back what it took.
        var beforeSuite = fixture.BaselineRss;
        var beforeDetail = fixture.BaselineDetail;
        await SettleAsync("RSS check, first pass");
        var afterFirstPass = HostileFixture.MeasureRssAfterFullGc();
        var firstPassDetail = HostileFixture.MemoryDetail();
        var failures = await RunWholeSuiteAgainAsync();
        await SettleAsync("RSS check, second pass");
        var afterSecondPass = HostileFixture.MeasureRssAfterFullGc();
        var growth = (afterSecondPass - afterFirstPass) / (double)afterFirstPass;

        output.WriteLine("| hostile case (each followed by a healthy client's connect, subscribe and publish) |");
        output.WriteLine("|---|");
        lock (fixture.Report)
        {
            foreach (var row in fixture.Report)
            {
                output.WriteLine($"| {row} |");
            }
        }

        static string MiB(long bytes) => $"{bytes / (1024.0 * 1024):F1} MiB";
        output.WriteLine($"process RSS before the suite (start-up + warm-up, forced GC): {MiB(beforeSuite)}  [{beforeDetail}]");
        output.WriteLine($"process RSS after pass 1 + forced GC:                         {MiB(afterFirstPass)} ({(afterFirstPass - beforeSuite) / (double)beforeSuite:+0.0%;-0.0%}, one-off code loading included)  [{firstPassDetail}]");
        output.WriteLine($"process RSS after pass 2 + forced GC:                         {MiB(afterSecondPass)} ({growth:+0.0%;-0.0%} over pass 1)  [{HostileFixture.MemoryDetail()}]");
        output.WriteLine($"connections held: {fixture.ConnectionCount}; cases failing in pass 2: {(failures.Count == 0 ? "none" : string.Join("; ", failures))}");
        Assert.True(growth <= AllowedRssGrowth, $"RSS grew {growth:P1} over a whole pass of the suite ({afterFirstPass} -> {afterSecondPass} bytes), more than {AllowedRssGrowth:P0}");
    }

    /// <summary>Runs every case of stage 0 and 1 again, in suite order; returns the ones that failed (they fail on their own as well).</summary>
    private async Task<List<string>> RunWholeSuiteAgainAsync()
    {
        var cases = typeof(HostileClientTests).GetMethods()
            .Where(m => m.GetCustomAttributes(typeof(FactAttribute), inherit: false).Length > 0)
            .Select(m => (Method: m, Stage: (m.GetCustomAttributes(typeof(HostileStageAttribute), inherit: false).FirstOrDefault() as HostileStageAttribute)?.Stage ?? 0))
            .Where(c => c.Stage < 2)
            .OrderBy(c => c.Stage)
            .ThenBy(c => c.Method.Name, StringComparer.Ordinal)
            .ToList();
        var failures = new List<string>();
        foreach (var (method, _) in cases)
        {
            try
            {
                await (Task)method.Invoke(this, null)!;
            }
            catch (Exception e)
            {
                failures.Add($"{method.Name}: {e.GetBaseException().Message}");
            }
        }

        return failures;
    }

    /// <summary>The node's clean-up of closed sessions is asynchronous: one more healthy round trip and a pause before measuring.</summary>
    private async Task SettleAsync(string what)
    {
        await fixture.AssertServesOthersAsync(what);
        await Task.Delay(TimeSpan.FromSeconds(2));
    }

    internal static void AssertWithin(Stopwatch clock, TimeSpan deadline, string what, TimeSpan? elapsed = null)
    {
        var took = elapsed ?? clock.Elapsed;
        Assert.True(took < deadline + HostileFixture.DeadlineSlack, $"{what}: closed after {took.TotalSeconds:F1} s, deadline {deadline.TotalSeconds} s");
    }

    internal static async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TestClient.DefaultTimeout);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what + ": not reached in time");
            await Task.Delay(50);
        }
    }

    private static string Token(string prefix) => GatewayServer.MintToken(prefix + "-" + Guid.NewGuid().ToString("N"));

    private async Task CheckHealthyAsync(string afterCase)
    {
        await fixture.AssertServesOthersAsync(afterCase);
        lock (fixture.Report)
        {
            fixture.Report.Add(afterCase);
        }
    }

    private static Task DribbleAsync(Func<int, Task> sendByte, int count, CancellationToken stop) => Task.Run(async () =>
    {
        try
        {
            for (var i = 0; i < count; i++)
            {
                await sendByte(i);
                await Task.Delay(50, stop);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The node closed the connection (the point of the test) or the test stopped the dribble.
        }
    });

    private static async Task<string> ReadToEndOrResetAsync(NetworkStream stream, TimeSpan timeout) =>
        Encoding.ASCII.GetString(await ReadToEndOrResetBytesAsync(stream, timeout));

    private static async Task<byte[]> ReadToEndOrResetBytesAsync(NetworkStream stream, TimeSpan timeout)
    {
        var received = new MemoryStream();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await stream.CopyToAsync(received, cts.Token);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            // RST instead of FIN: closed all the same.
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The node did not close the connection within {timeout.TotalSeconds} s.");
        }

        return received.ToArray();
    }

    private static IEnumerable<VectorCase> LoadVectors(string file)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(FindVectors(), file)));
        foreach (var vector in document.RootElement.GetProperty("vectors").EnumerateArray())
        {
            ErrorCode? code = vector.TryGetProperty("error", out var error) ? (ErrorCode)error.GetProperty("code").GetInt32() : null;
            string? firstKind = vector.TryGetProperty("frames", out var frames) && frames.GetArrayLength() > 0 ? frames[0].GetProperty("kind").GetString() : null;
            yield return new VectorCase(vector.GetProperty("name").GetString()!, vector.GetProperty("hex").GetString()!, code, firstKind);
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

    private sealed record VectorCase(string Name, string Hex, ErrorCode? ErrorCode, string? FirstKind);
}
