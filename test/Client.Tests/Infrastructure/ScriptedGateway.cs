using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Client.Tests.Infrastructure;

/// <summary>
/// A scripted gateway on a real loopback socket (raw TCP transport): each accepted connection completes
/// the hello and the Connect/Connected handshake, then the test reads the client's frames and writes
/// the server's frames itself. The SDK is the thing under test.
/// </summary>
public sealed class ScriptedGateway : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<ScriptedConnection> _connections = [];

    public ScriptedGateway()
    {
        _listener.Start();
        Uri = new Uri($"tcp://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");
    }

    public Uri Uri { get; }

    /// <summary>Client options for this server: fixed token, fast reconnects.</summary>
    public GatewayClientOptions Options() => new()
    {
        Endpoints = [Uri],
        Token = "token",
        Reconnect = new ReconnectPolicy { InitialDelay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(200), FirstReconnectWindow = TimeSpan.FromMilliseconds(50) },
    };

    /// <summary>Accepts the next connection and completes the handshake (Connected with <paramref name="userId"/>).</summary>
    public async Task<ScriptedConnection> AcceptAsync(string userId = "tester")
    {
        var socket = await _listener.AcceptSocketAsync().WaitAsync(TestWait.Timeout);
        var connection = new ScriptedConnection(socket);
        _connections.Add(connection);
        await connection.HandshakeAsync(userId);
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }
    }
}

/// <summary>A frame the client sent.</summary>
public sealed record ClientFrame(FrameKind Kind, FrameFlags Flags, byte[] Body)
{
    public uint CorrelationId => BinaryPrimitives.ReadUInt32BigEndian(Body);

    /// <summary>Subscribe: the recovery position (null without the Recover flag).</summary>
    public StreamPosition? RecoverFrom => (Flags & FrameFlags.Recover) != 0
        ? new StreamPosition(BinaryPrimitives.ReadUInt64BigEndian(Body.AsSpan(4)), BinaryPrimitives.ReadUInt64BigEndian(Body.AsSpan(12)))
        : null;

    /// <summary>The topic of a Subscribe, Unsubscribe or Ack.</summary>
    public string Topic => Kind switch
    {
        FrameKind.Subscribe => Str8(20),
        FrameKind.Unsubscribe => Str8(4),
        FrameKind.Ack => Str8(8),
        _ => throw new InvalidOperationException($"{Kind} has no topic."),
    };

    /// <summary>The offset of an Ack.</summary>
    public ulong AckOffset => BinaryPrimitives.ReadUInt64BigEndian(Body);

    private string Str8(int at) => Encoding.UTF8.GetString(Body, at + 1, Body[at]);
}

public sealed class ScriptedConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    internal ScriptedConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
    }

    internal async Task HandshakeAsync(string userId)
    {
        var hello = new byte[ProtocolVersion.TcpHelloSize];
        await _stream.ReadExactlyAsync(hello).AsTask().WaitAsync(TestWait.Timeout);
        await _stream.WriteAsync(hello);
        var connect = await ReadAsync();
        Assert.Equal(FrameKind.Connect, connect.Kind);
        await SendAsync(w => FrameWriter.WriteConnected(w, 15000, 65536, 64, "c-1", "scripted", userId));
    }

    /// <summary>The next frame from the client (Ping, Pong and, unless asked for, Ack are skipped).</summary>
    public async Task<ClientFrame> ReadAsync(bool includeAcks = false)
    {
        while (true)
        {
            var header = new byte[ProtocolLimits.HeaderSize];
            await _stream.ReadExactlyAsync(header).AsTask().WaitAsync(TestWait.Timeout);
            var body = new byte[BinaryPrimitives.ReadUInt32BigEndian(header)];
            await _stream.ReadExactlyAsync(body).AsTask().WaitAsync(TestWait.Timeout);
            var frame = new ClientFrame((FrameKind)header[4], (FrameFlags)header[5], body);
            if (frame.Kind == FrameKind.Ping)
            {
                await SendAsync(w => FrameWriter.WritePong(w, (long)BinaryPrimitives.ReadUInt64BigEndian(body)));
                continue;
            }

            if (frame.Kind == FrameKind.Pong || (frame.Kind == FrameKind.Ack && !includeAcks))
            {
                continue;
            }

            return frame;
        }
    }

    /// <summary>The next frame, which must be of <paramref name="kind"/>.</summary>
    public async Task<ClientFrame> ExpectAsync(FrameKind kind, bool includeAcks = false)
    {
        var frame = await ReadAsync(includeAcks);
        Assert.Equal(kind, frame.Kind);
        return frame;
    }

    public Task SubscribedAsync(ClientFrame subscribe, ulong epoch, ulong offset, FrameFlags flags = FrameFlags.None) =>
        SendAsync(w => FrameWriter.WriteSubscribed(w, subscribe.CorrelationId, subscribe.Topic, epoch, offset, flags));

    public Task MessageAsync(string topic, ulong epoch, ulong offset, FrameFlags flags = FrameFlags.None) =>
        SendAsync(w => FrameWriter.WriteMessage(w, topic, Priority.Normal, epoch, offset, 1_700_000_000_000, Encoding.UTF8.GetBytes($"m{offset}"), flags));

    public Task ErrorAsync(ErrorCode code, uint correlationId, string text) =>
        SendAsync(w => FrameWriter.WriteError(w, code, correlationId, text));

    public async Task SendAsync(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        await _writeLock.WaitAsync();
        try
        {
            await _stream.WriteAsync(buffer.WrittenMemory);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Drops the connection (the client sees it closed).</summary>
    public void Drop() => _socket.Close(0);

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _writeLock.Dispose();
    }
}
