using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Gateway.Client.Tests.Infrastructure;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Client.Tests;

/// <summary>
/// The client's whole receive and dispatch path against a misbehaving peer: a scripted raw-TCP server
/// (real socket) completes the hello and handshake, then sends an invalid golden vector. The client
/// must drop the connection and report the vector's error code, never deliver garbage.
/// </summary>
public sealed class MalformedServerTests
{
    public static TheoryData<string> InvalidErrors => Vectors.InvalidErrorNames();

    [Theory]
    [MemberData(nameof(InvalidErrors))]
    public async Task Malformed_bytes_from_the_server_end_the_connection_with_the_vectors_error(string name)
    {
        var vector = Vectors.Invalid(name);
        var expected = (ErrorCode)vector.GetProperty("error").GetProperty("code").GetUInt16();
        await using var server = new ScriptedServer();
        var options = new GatewayClientOptions
        {
            Endpoints = [server.Uri],
            Token = "token",
            Reconnect = new ReconnectPolicy { MaxAttempts = 0 },
        };

        await using var client = await GatewayClient.ConnectAsync(options);
        Assert.Equal("scripted", client.Connection!.NodeId);
        // Reconnecting, or Disconnected at once when the error says retrying cannot help (unsupported_version).
        var lost = client.StateAsync(e => e.Current is ConnectionState.Reconnecting or ConnectionState.Disconnected);

        server.Send(Vectors.Bytes(vector));

        var change = await lost;
        var error = Assert.IsType<GatewayException>(change.Error);
        Assert.Equal(expected, error.Code);
        Assert.Equal(ErrorCatalog.Get(expected).Name, error.ErrorName);
    }

    [Fact]
    public async Task A_client_to_server_frame_from_the_server_is_an_unexpected_frame()
    {
        await using var server = new ScriptedServer();
        var options = new GatewayClientOptions { Endpoints = [server.Uri], Token = "token", Reconnect = new ReconnectPolicy { MaxAttempts = 0 } };
        await using var client = await GatewayClient.ConnectAsync(options);
        var lost = client.StateAsync(e => e.Current == ConnectionState.Reconnecting);

        var frame = new ArrayBufferWriter<byte>();
        FrameWriter.WritePublish(frame, 1, Priority.Normal, "team:x", [1, 2, 3]);
        server.Send(frame.WrittenSpan.ToArray());

        var error = Assert.IsType<GatewayException>((await lost).Error);
        Assert.Equal(ErrorCode.UnexpectedFrame, error.Code);
    }

    /// <summary>Accepts one raw-TCP client, echoes the hello, answers Connect with Connected, then sends what the test gives it.</summary>
    private sealed class ScriptedServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly TaskCompletionSource<byte[]> _script = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Task _run;

        public ScriptedServer()
        {
            _listener.Start();
            Uri = new Uri($"tcp://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");
            _run = RunAsync();
        }

        public Uri Uri { get; }

        public void Send(byte[] bytes) => _script.TrySetResult(bytes);

        public async ValueTask DisposeAsync()
        {
            _script.TrySetResult([]);
            _listener.Stop();
            await _run.WaitAsync(TestWait.Timeout);
        }

        private async Task RunAsync()
        {
            using var socket = await _listener.AcceptSocketAsync();
            await using var stream = new NetworkStream(socket);
            var hello = new byte[ProtocolVersion.TcpHelloSize];
            await stream.ReadExactlyAsync(hello);
            await stream.WriteAsync(hello);

            var header = new byte[ProtocolLimits.HeaderSize];
            await stream.ReadExactlyAsync(header);
            Assert.Equal((byte)FrameKind.Connect, header[4]);
            var body = new byte[System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(header)];
            await stream.ReadExactlyAsync(body);

            var connected = new ArrayBufferWriter<byte>();
            FrameWriter.WriteConnected(connected, 15000, 65536, 64, "c-1", "scripted", "tester");
            await stream.WriteAsync(connected.WrittenMemory);

            var script = await _script.Task;
            if (script.Length == 0)
            {
                return;
            }

            await stream.WriteAsync(script);

            // Keep the socket open until the client gives up on it, so the error (not a close) is what it sees.
            var sink = new byte[4096];
            try
            {
                while (await stream.ReadAsync(sink).AsTask().WaitAsync(TestWait.Timeout) > 0)
                {
                }
            }
            catch (IOException)
            {
                // The client reset the connection.
            }
        }
    }
}
