using System.Net.WebSockets;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>Per-connection limits: frame rate (error, then close on sustained abuse) and subscriptions.</summary>
public sealed class LimitsTests(LimitsTests.Fixture fixture) : IClassFixture<LimitsTests.Fixture>
{
    private readonly GatewayServer _server = fixture.Server;

    [Fact]
    public async Task Frames_over_the_rate_get_rate_limited_and_the_connection_survives_a_short_burst()
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("burster"));
        await using var _c = client;
        await client.SendAsync(w =>
        {
            for (var i = 0; i < 12; i++)
            {
                FrameWriter.WritePing(w, i);
            }
        });
        var frames = new List<ReceivedFrame>();
        var error = await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Error, frames);
        Assert.Equal(ErrorCode.RateLimited, error.ErrorCode);
        Assert.Equal(10, frames.Count(f => f.Kind == FrameKind.Pong));

        // After the bucket refills the connection works again.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        await client.SendAsync(w => FrameWriter.WritePing(w, 100));
        var pong = await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Pong && f.Value == 100);
        Assert.Equal(100, pong.Value);
    }

    [Fact]
    public async Task Sustained_abuse_closes_the_connection_with_rate_limited()
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("flooder"));
        await using var _c = client;
        await client.SendAsync(w =>
        {
            for (var i = 0; i < 200; i++)
            {
                FrameWriter.WritePing(w, i);
            }
        });
        var (frames, status) = await client.ReadUntilClosedAsync();
        Assert.Equal(ErrorCode.RateLimited, frames.Last(f => f.Kind == FrameKind.Error).ErrorCode);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
    }

    [Fact]
    public async Task Subscriptions_beyond_the_limit_are_refused_with_the_correlation_id()
    {
        var (client, connected) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("collector", subscribe: ["team:*"]));
        await using var _c = client;
        Assert.Equal(3, (int)connected.MaxSubscriptions);
        await client.SendAsync(Frames.Subscribe(1, "team:1"));
        Assert.Equal(FrameKind.Subscribed, (await client.ReceiveAsync()).Kind);
        await client.SendAsync(Frames.Subscribe(2, "team:2"));
        Assert.Equal(FrameKind.Subscribed, (await client.ReceiveAsync()).Kind);
        await client.SendAsync(Frames.Subscribe(3, "team:3"));
        var error = await client.ReceiveAsync();
        Assert.Equal(ErrorCode.TooManySubscriptions, error.ErrorCode);
        Assert.Equal(3u, error.CorrelationId);
        await client.SendAsync(Frames.Subscribe(4, "team:1"));
        Assert.Equal(ErrorCode.AlreadySubscribed, (await client.ReceiveAsync()).ErrorCode);
    }

    public sealed class Fixture : ServerFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Gateway:Limits:FramesPerSecond"] = "10",
            ["Gateway:Limits:FrameBurst"] = "10",
            ["Gateway:Limits:MaxRateLimitStrikes"] = "50",
            ["Gateway:Limits:MaxSubscriptions"] = "3",
        };
    }
}
