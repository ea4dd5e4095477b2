using System.Buffers;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Threading.Channels;
using Gateway.Protocol;
using Gateway.Protocol.Frames;

namespace Gateway.Tests.Infrastructure;

/// <summary>
/// A minimal protocol client over a real ClientWebSocket or TcpClient for tests: sends frames,
/// decodes everything received on a background loop, answers server pings (unless told not to),
/// and reports how the connection ended (WebSocket close status or TCP end of stream).
/// </summary>
public sealed class TestClient : IAsyncDisposable
{
    /// <summary>Default wait for an expected frame: generous for a loaded 2-core machine.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// A raw HTTP/1.1 WebSocket upgrade request to <c>/ws</c> (for asserting refusals, which a ClientWebSocket
    /// only reports as an exception): subprotocol and origin headers only when given.
    /// </summary>
    public static HttpRequestMessage UpgradeRequest(GatewayServer server, string? subprotocol = ProtocolVersion.WebSocketSubprotocol, string? origin = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(server.HttpAddress, "ws"));
        request.Headers.Add("Connection", "Upgrade");
        request.Headers.Add("Upgrade", "websocket");
        request.Headers.Add("Sec-WebSocket-Version", "13");
        request.Headers.Add("Sec-WebSocket-Key", Convert.ToBase64String(new byte[16]));
        if (subprotocol is not null)
        {
            request.Headers.Add("Sec-WebSocket-Protocol", subprotocol);
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        return request;
    }

    private readonly ClientWebSocket? _socket;
    private readonly TcpClient? _tcp;
    private readonly Stream? _stream;
    private readonly Channel<ReceivedFrame> _frames = Channel.CreateUnbounded<ReceivedFrame>();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource<(WebSocketCloseStatus? Status, string? Description)> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _receiveLoop;
    private int _disposed;

    private TestClient(ClientWebSocket socket)
    {
        _socket = socket;
    }

    private TestClient(TcpClient tcp, Stream stream)
    {
        _tcp = tcp;
        _stream = stream;
    }

    /// <summary>Whether to answer server pings automatically (default true).</summary>
    public bool AnswerPings { get; set; } = true;

    /// <summary>Completes when the server closed the connection: the WebSocket close status (null for TCP end of stream or an abort).</summary>
    public Task<(WebSocketCloseStatus? Status, string? Description)> Closed => _closed.Task;

    /// <summary>Opens a WebSocket (subprotocol archmesh.v1) without sending anything.</summary>
    public static Task<TestClient> OpenWebSocketAsync(GatewayServer server, string? origin = null, string? subprotocol = ProtocolVersion.WebSocketSubprotocol)
    {
        ArgumentNullException.ThrowIfNull(server);
        return OpenWebSocketAsync(server.WebSocketUri, origin, subprotocol);
    }

    /// <summary>Opens a WebSocket to any <c>/ws</c> address (e.g. through a load balancer) without sending anything.</summary>
    public static async Task<TestClient> OpenWebSocketAsync(Uri webSocketUri, string? origin = null, string? subprotocol = ProtocolVersion.WebSocketSubprotocol)
    {
        ArgumentNullException.ThrowIfNull(webSocketUri);
        var socket = new ClientWebSocket();
        if (subprotocol is not null)
        {
            socket.Options.AddSubProtocol(subprotocol);
        }

        if (origin is not null)
        {
            socket.Options.SetRequestHeader("Origin", origin);
        }

        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await socket.ConnectAsync(webSocketUri, timeout.Token);
        var client = new TestClient(socket);
        client.Start();
        return client;
    }

    /// <summary>Opens a raw TCP connection and completes the hello.</summary>
    public static Task<TestClient> OpenTcpAsync(GatewayServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        return OpenTcpAsync(server.TcpEndPoint!);
    }

    /// <summary>Opens a raw TCP connection to any endpoint (e.g. a load balancer's TCP front end) and completes the hello.</summary>
    /// <param name="endPoint">The raw TCP endpoint.</param>
    /// <param name="secure">Wraps the socket's stream before the hello (e.g. an authenticated SslStream for a tcps listener).</param>
    public static async Task<TestClient> OpenTcpAsync(System.Net.IPEndPoint endPoint, Func<NetworkStream, Task<Stream>>? secure = null)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(endPoint);
        var client = new TestClient(tcp, secure is null ? tcp.GetStream() : await secure(tcp.GetStream()));
        await client._stream!.WriteAsync(ProtocolVersion.TcpHello.ToArray());
        var echo = new byte[ProtocolVersion.TcpHelloSize];
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await client._stream.ReadExactlyAsync(echo, timeout.Token);
        Assert.Equal(ProtocolVersion.TcpHello.ToArray(), echo);
        client.Start();
        return client;
    }

    /// <summary>Opens a WebSocket or TCP client, sends Connect and waits for Connected.</summary>
    public static async Task<(TestClient Client, ReceivedFrame Connected)> ConnectAsync(GatewayServer server, string token, bool tcp = false)
    {
        ArgumentNullException.ThrowIfNull(server);
        return await ConnectAsync(tcp ? await OpenTcpAsync(server) : await OpenWebSocketAsync(server), token);
    }

    /// <summary>Sends Connect on an opened client (any address, e.g. through a load balancer) and waits for Connected.</summary>
    public static async Task<(TestClient Client, ReceivedFrame Connected)> ConnectAsync(TestClient client, string token)
    {
        ArgumentNullException.ThrowIfNull(client);
        await client.SendAsync(w => FrameWriter.WriteConnect(w, ProtocolVersion.Current, token, "tests"));
        var connected = await client.ReceiveAsync();
        Assert.True(connected.Kind == FrameKind.Connected, $"expected Connected, got {connected}");
        return (client, connected);
    }

    /// <summary>Sends the frames written by <paramref name="write"/> as one WebSocket message / one TCP write.</summary>
    public Task SendAsync(Action<IBufferWriter<byte>> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return SendRawAsync(buffer.WrittenMemory);
    }

    /// <summary>Sends raw bytes (one binary WebSocket message / one TCP write).</summary>
    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes, WebSocketMessageType type = WebSocketMessageType.Binary, bool endOfMessage = true)
    {
        await _sendLock.WaitAsync();
        try
        {
            if (_socket is not null)
            {
                await _socket.SendAsync(bytes, type, endOfMessage, CancellationToken.None);
            }
            else
            {
                await _stream!.WriteAsync(bytes);
            }
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>The next frame (pings answered and skipped). Fails the test on timeout or close.</summary>
    public async Task<ReceivedFrame> ReceiveAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            return await _frames.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No frame within {(timeout ?? DefaultTimeout).TotalSeconds} s.");
        }
        catch (ChannelClosedException)
        {
            var (status, description) = await Closed;
            throw new InvalidOperationException($"The connection closed ({status} {description}) while a frame was expected.");
        }
    }

    /// <summary>Receives until <paramref name="match"/> (returns it), collecting everything before it.</summary>
    public async Task<ReceivedFrame> ReceiveUntilAsync(Func<ReceivedFrame, bool> match, List<ReceivedFrame>? skipped = null, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(match);
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            var remaining = deadline - DateTime.UtcNow;
            var frame = await ReceiveAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.FromMilliseconds(1));
            if (match(frame))
            {
                return frame;
            }

            skipped?.Add(frame);
        }
    }

    /// <summary>Every frame until the server closes, and the close status.</summary>
    public async Task<(List<ReceivedFrame> Frames, WebSocketCloseStatus? Status)> ReadUntilClosedAsync(TimeSpan? timeout = null)
    {
        var frames = new List<ReceivedFrame>();
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            await foreach (var frame in _frames.Reader.ReadAllAsync(cts.Token))
            {
                frames.Add(frame);
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The server did not close within {(timeout ?? DefaultTimeout).TotalSeconds} s; received: {string.Join(", ", frames)}");
        }

        var (status, _) = await Closed;
        return (frames, status);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync();
        if (_socket is not null)
        {
            if (_socket.State == WebSocketState.Open)
            {
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);
                }
                catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
                {
                }
            }

            _socket.Abort();
            _socket.Dispose();
        }

        _stream?.Dispose();
        _tcp?.Dispose();
        if (_receiveLoop is not null)
        {
            await _receiveLoop.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        }

        _sendLock.Dispose();
        _stop.Dispose();
    }

    private void Start() => _receiveLoop = Task.Run(ReceiveLoopAsync);

    private async Task ReceiveLoopAsync()
    {
        var pending = new ArrayBufferWriter<byte>();
        var chunk = new byte[64 * 1024];
        var limits = new ProtocolLimits { MaxFrameLength = 16 * 1024 * 1024 };
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                int count;
                if (_socket is not null)
                {
                    var result = await _socket.ReceiveAsync(chunk, _stop.Token);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        _closed.TrySetResult((result.CloseStatus, result.CloseStatusDescription));
                        return;
                    }

                    count = result.Count;
                }
                else
                {
                    count = await _stream!.ReadAsync(chunk, _stop.Token);
                    if (count == 0)
                    {
                        _closed.TrySetResult((null, "end of stream"));
                        return;
                    }
                }

                pending.Write(chunk.AsSpan(0, count));
                var consumed = await DecodeAsync(pending.WrittenMemory, limits);
                var rest = pending.WrittenMemory[consumed..].ToArray();
                pending.ResetWrittenCount();
                pending.Write(rest);
            }
        }
        catch (Exception e) when (e is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException or SocketException)
        {
            _closed.TrySetResult((null, "aborted: " + e.GetType().Name));
        }
        finally
        {
            _frames.Writer.TryComplete();
        }
    }

    private async Task<int> DecodeAsync(ReadOnlyMemory<byte> data, ProtocolLimits limits)
    {
        var sequence = new ReadOnlySequence<byte>(data);
        var consumed = 0;
        while (true)
        {
            ReceivedFrame copy;
            if (!TryDecode(sequence.Slice(consumed), limits, out copy, out var length))
            {
                return consumed;
            }

            consumed += length;
            if (copy.Kind == FrameKind.Ping)
            {
                if (AnswerPings)
                {
                    var nonce = copy.Value;
                    await SendAsync(w => FrameWriter.WritePong(w, nonce));
                }

                continue;
            }

            _frames.Writer.TryWrite(copy);
        }
    }

    private static bool TryDecode(ReadOnlySequence<byte> sequence, ProtocolLimits limits, out ReceivedFrame frame, out int length)
    {
        var reader = new SequenceReader<byte>(sequence);
        if (!FrameReader.TryRead(ref reader, limits, out var decoded))
        {
            frame = null!;
            length = 0;
            return false;
        }

        frame = ReceivedFrame.From(decoded);
        length = (int)reader.Consumed;
        return true;
    }
}
