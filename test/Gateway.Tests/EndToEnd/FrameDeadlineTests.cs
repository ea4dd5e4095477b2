using System.Net.WebSockets;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.EndToEnd;

/// <summary>
/// Issue 10 (7): a frame that has begun must complete within Gateway:Connection:FrameTimeout, however steadily its
/// bytes trickle in (each byte refreshes the idle clock), or the connection is closed with frame_timeout (4005).
/// </summary>
public sealed class FrameDeadlineTests(FrameDeadlineTests.Fixture fixture) : IClassFixture<FrameDeadlineTests.Fixture>
{
    private readonly GatewayServer _server = fixture.Server;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_frame_dribbled_byte_by_byte_is_closed_with_frame_timeout(bool tcp)
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("dribbler-" + tcp), tcp);
        await using var _c = client;

        // A Publish header announcing 1,000 body bytes, then one byte every 100 ms: always busy, never finished.
        var header = new byte[] { 0, 0, 0x03, 0xE8, (byte)FrameKind.Publish, 0 };
        var dribble = Task.Run(async () =>
        {
            try
            {
                for (var i = 0; !client.Closed.IsCompleted && i < 1_006; i++)
                {
                    var b = i < header.Length ? header[i] : (byte)0x61;
                    await client.SendRawAsync(new[] { b }, endOfMessage: false);
                    await Task.Delay(100);
                }
            }
            catch (Exception e) when (e is IOException or WebSocketException or ObjectDisposedException or InvalidOperationException)
            {
                // Closed under our writes.
            }
        });

        // Far below the idle timeout (30 s) yet far above the frame deadline (1 s).
        var (frames, status) = await client.ReadUntilClosedAsync(TimeSpan.FromSeconds(20));
        await dribble.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(ErrorCode.FrameTimeout, frames.Single(f => f.Kind == FrameKind.Error).ErrorCode);
        if (!tcp)
        {
            Assert.Equal((WebSocketCloseStatus)4005, status);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_frame_completed_within_the_deadline_in_pieces_is_served(bool tcp)
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("pieces-" + tcp), tcp);
        await using var _c = client;
        var ping = new System.Buffers.ArrayBufferWriter<byte>();
        FrameWriter.WritePing(ping, 42);
        var bytes = ping.WrittenMemory;
        await client.SendRawAsync(bytes[..3], endOfMessage: false);
        await Task.Delay(150);
        await client.SendRawAsync(bytes[3..9], endOfMessage: false);
        await Task.Delay(150);
        await client.SendRawAsync(bytes[9..], endOfMessage: true);
        var pong = await client.ReceiveAsync();
        Assert.Equal(FrameKind.Pong, pong.Kind);
        Assert.Equal(42, pong.Value);

        // Whole frames afterwards leave no deadline running: the connection stays open past it.
        await Task.Delay(TimeSpan.FromSeconds(2));
        await client.SendAsync(w => FrameWriter.WritePing(w, 43));
        Assert.Equal(43, (await client.ReceiveAsync()).Value);
    }

    [Fact]
    public async Task A_frame_timeout_above_the_idle_timeout_refuses_to_start_naming_the_setting()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Connection:FrameTimeout"] = "00:01:00",
            ["Gateway:Connection:IdleTimeout"] = "00:00:45",
        }));
        Assert.Contains(error.Failures, f => f.Contains("Gateway:Connection:FrameTimeout", StringComparison.Ordinal) && f.Contains("IdleTimeout", StringComparison.Ordinal));
    }

    public sealed class Fixture : ServerFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Gateway:Connection:FrameTimeout"] = "00:00:01",
            ["Gateway:Connection:HeartbeatInterval"] = "00:00:10",
            ["Gateway:Connection:IdleTimeout"] = "00:00:30",
        };
    }
}
