using System.Buffers;
using System.Net.Sockets;
using System.Net.WebSockets;
using Gateway.Protocol;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>
/// A client over a real socket with a small receive buffer that reads nothing unless told to: what the node sees of a
/// client that stopped reading. It can read later (to see what the node wrote, and how it closed).
/// </summary>
internal sealed class SilentClient : IAsyncDisposable
{
    private readonly TcpClient? _tcp;
    private readonly NetworkStream? _stream;
    private readonly ClientWebSocket? _socket;
    private readonly ArrayBufferWriter<byte> _pending = new();

    private SilentClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    private SilentClient(ClientWebSocket socket)
    {
        _socket = socket;
    }

    /// <summary>The WebSocket close status, once <see cref="ReadAsync"/> saw the close.</summary>
    public WebSocketCloseStatus? CloseStatus { get; private set; }

    /// <summary>True once the node ended the connection (end of stream, close, or reset).</summary>
    public bool Ended { get; private set; }

    /// <summary>Opens a raw TCP connection (hello answered), sends Connect and does not read the answer.</summary>
    public static async Task<SilentClient> ConnectTcpAsync(GatewayServer server, string token, int receiveBuffer = 4096)
    {
        var tcp = new TcpClient { ReceiveBufferSize = receiveBuffer, NoDelay = true };
        await tcp.ConnectAsync(server.TcpEndPoint!);
        var client = new SilentClient(tcp);
        await client._stream!.WriteAsync(ProtocolVersion.TcpHello.ToArray());
        await client._stream.ReadExactlyAsync(new byte[ProtocolVersion.TcpHelloSize]);
        await client.SendAsync(w => FrameWriter.WriteConnect(w, ProtocolVersion.Current, token, "silent"));
        return client;
    }

    /// <summary>Opens a WebSocket (socket receive buffer set before connecting), sends Connect and does not read.</summary>
    public static async Task<SilentClient> ConnectWebSocketAsync(GatewayServer server, string token, int receiveBuffer = 4096)
    {
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(ProtocolVersion.WebSocketSubprotocol);
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var raw = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveBufferSize = receiveBuffer };
                try
                {
                    await raw.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(raw, ownsSocket: true);
                }
                catch
                {
                    raw.Dispose();
                    throw;
                }
            },
        };
        using var invoker = new HttpMessageInvoker(handler);
        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        await socket.ConnectAsync(server.WebSocketUri, invoker, timeout.Token);
        var client = new SilentClient(socket);
        await client.SendAsync(w => FrameWriter.WriteConnect(w, ProtocolVersion.Current, token, "silent"));
        return client;
    }

    /// <summary>Sends frames as one write (one binary message on WebSocket).</summary>
    public async Task SendAsync(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        using var timeout = new CancellationTokenSource(TestClient.DefaultTimeout);
        if (_stream is not null)
        {
            await _stream.WriteAsync(buffer.WrittenMemory, timeout.Token);
        }
        else
        {
            await _socket!.SendAsync(buffer.WrittenMemory, WebSocketMessageType.Binary, true, timeout.Token);
        }
    }

    /// <summary>
    /// Reads and decodes frames until <paramref name="stop"/> returns true for the frames read so far, the node ends the
    /// connection, or <paramref name="timeout"/> passes (then returns what was read).
    /// </summary>
    public async Task<List<ReceivedFrame>> ReadAsync(Func<List<ReceivedFrame>, bool> stop, TimeSpan timeout)
    {
        var frames = new List<ReceivedFrame>();
        var limits = new ProtocolLimits { MaxFrameLength = 16 * 1024 * 1024 };
        using var cancel = new CancellationTokenSource(timeout);
        var chunk = new byte[64 * 1024];
        try
        {
            while (!stop(frames) && !Ended)
            {
                int read;
                if (_stream is not null)
                {
                    read = await _stream.ReadAsync(chunk, cancel.Token);
                }
                else
                {
                    var result = await _socket!.ReceiveAsync(chunk, cancel.Token);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        CloseStatus = result.CloseStatus;
                        Ended = true;
                        break;
                    }

                    read = result.Count;
                }

                if (read == 0)
                {
                    Ended = true;
                    break;
                }

                _pending.Write(chunk.AsSpan(0, read));
                Decode(frames, limits);
            }
        }
        catch (OperationCanceledException)
        {
            // Timed out: the caller asserts on what was read.
        }
        catch (Exception e) when (e is IOException or SocketException or WebSocketException)
        {
            Ended = true; // reset by the node
        }

        return frames;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _socket?.Abort();
        _socket?.Dispose();
        _tcp?.Dispose();
        return ValueTask.CompletedTask;
    }

    private void Decode(List<ReceivedFrame> frames, ProtocolLimits limits)
    {
        var consumed = 0;
        var sequence = new ReadOnlySequence<byte>(_pending.WrittenMemory);
        while (true)
        {
            var reader = new SequenceReader<byte>(sequence.Slice(consumed));
            if (!FrameReader.TryRead(ref reader, limits, out var frame))
            {
                break;
            }

            frames.Add(ReceivedFrame.From(frame));
            consumed += (int)reader.Consumed;
        }

        if (consumed > 0)
        {
            var rest = _pending.WrittenMemory[consumed..].ToArray();
            _pending.ResetWrittenCount();
            _pending.Write(rest);
        }
    }
}
