using Gateway.Client.Tests.Infrastructure;
using Gateway.Protocol.Frames;

namespace Gateway.Client.Tests;

/// <summary>
/// Reconnect jitter (issue 12): a dead node's clients come back spread over the first-reconnect window, a
/// GoAway waits the gateway's hint, a flapping node is backed off from. Distributions are checked with
/// seeded or fixed random sources, never with clocks.
/// </summary>
public sealed class ReconnectPolicyTests
{
    [Fact]
    public void The_first_reconnect_after_a_drop_is_spread_uniformly_over_the_window()
    {
        var policy = new ReconnectPolicy { FirstReconnectWindow = TimeSpan.FromSeconds(2) };
        var random = new Random(12345);

        // 2,000 clients of a node that died: where each one's first attempt lands.
        var delays = Enumerable.Range(0, 2000).Select(_ => policy.GetFirstDelay(1, random)).ToList();

        Assert.All(delays, d => Assert.InRange(d, TimeSpan.Zero, TimeSpan.FromSeconds(2)));
        Assert.All(delays, d => Assert.True(d < TimeSpan.FromSeconds(2)));
        var buckets = delays.GroupBy(d => (int)(d.TotalMilliseconds / 200)).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(Enumerable.Range(0, 10), buckets.Keys.Order());

        // Each 200 ms slice gets about a tenth of the clients: no burst at the start or anywhere else.
        Assert.All(buckets.Values, count => Assert.InRange(count, 160, 240));
    }

    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(0.25, 250)]
    [InlineData(0.5, 500)]
    [InlineData(0.999, 999)]
    public void The_first_delay_is_the_draw_times_the_window(double draw, int expectedMs)
    {
        var policy = new ReconnectPolicy { FirstReconnectWindow = TimeSpan.FromSeconds(1) };
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), policy.GetFirstDelay(0, new FixedRandom(draw)));
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), policy.GetFirstDelay(1, new FixedRandom(draw)));
    }

    [Fact]
    public void The_default_window_is_one_second_and_zero_reconnects_at_once()
    {
        Assert.Equal(TimeSpan.FromSeconds(1), new ReconnectPolicy().FirstReconnectWindow);
        Assert.Equal(TimeSpan.Zero, new ReconnectPolicy { FirstReconnectWindow = TimeSpan.Zero }.GetFirstDelay(1, new FixedRandom(0.9)));
    }

    [Fact]
    public void A_node_that_keeps_dropping_its_connections_is_backed_off_from()
    {
        var policy = new ReconnectPolicy { InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1), Jitter = 0.5 };
        var top = new FixedRandom(0.999999);

        // Second short-lived connection in a row: the initial delay; then doubling up to the cap.
        Assert.InRange(policy.GetFirstDelay(2, top), TimeSpan.FromMilliseconds(99), TimeSpan.FromMilliseconds(100));
        Assert.InRange(policy.GetFirstDelay(3, top), TimeSpan.FromMilliseconds(199), TimeSpan.FromMilliseconds(200));
        Assert.InRange(policy.GetFirstDelay(20, top), TimeSpan.FromMilliseconds(999), TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromMilliseconds(50), policy.GetFirstDelay(2, new FixedRandom(0)));
    }

    [Fact]
    public void A_go_away_waits_what_is_left_of_the_hint_and_without_a_hint_draws_from_the_window()
    {
        var policy = new ReconnectPolicy { FirstReconnectWindow = TimeSpan.FromSeconds(1) };
        var half = new FixedRandom(0.5);

        Assert.Equal(TimeSpan.FromMilliseconds(700), policy.GetGoAwayDelay(TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(700), 1, half));

        // The hint was waited out on the old connection (the client keeps it until then): go at once.
        Assert.Equal(TimeSpan.Zero, policy.GetGoAwayDelay(TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(-3), 1, half));

        // No hint (a node draining at connect time): spread like a drop.
        Assert.Equal(TimeSpan.FromMilliseconds(500), policy.GetGoAwayDelay(TimeSpan.Zero, TimeSpan.Zero, 1, half));
    }

    [Theory]
    [InlineData(-1, 0)]
    [InlineData(0, -1)]
    public async Task A_negative_window_or_delay_is_refused_at_connect_naming_the_setting(int windowMs, int initialMs)
    {
        var options = new GatewayClientOptions
        {
            Endpoints = [new Uri("ws://127.0.0.1:1/ws")],
            Token = "token",
            Reconnect = new ReconnectPolicy { FirstReconnectWindow = TimeSpan.FromMilliseconds(windowMs), InitialDelay = TimeSpan.FromMilliseconds(initialMs) },
        };

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => GatewayClient.ConnectAsync(options));
        Assert.Equal(windowMs < 0 ? nameof(ReconnectPolicy.FirstReconnectWindow) : nameof(ReconnectPolicy.InitialDelay), error.ParamName);
    }

    [Fact]
    public async Task The_client_reports_the_delay_it_drew_when_its_connection_drops_and_backs_off_when_it_drops_again()
    {
        await using var server = new ScriptedGateway();
        var window = TimeSpan.FromMilliseconds(80);
        var options = server.Options() with { Reconnect = new ReconnectPolicy { FirstReconnectWindow = window, Random = new FixedRandom(0.25) } };
        var accepted = server.AcceptAsync();
        await using var client = await GatewayClient.ConnectAsync(options);
        var first = await accepted;

        var dropped = client.StateAsync(e => e.Current == ConnectionState.Reconnecting);
        var second = server.AcceptAsync();
        first.Drop();
        var change = await dropped;
        Assert.Equal(TimeSpan.FromMilliseconds(20), change.RetryDelay);
        Assert.Equal(server.Uri, change.Endpoint);
        Assert.True(change.Timestamp <= DateTimeOffset.UtcNow);
        var connection = await second;

        // A GoAway without a delay hint, on a connection that lived less than 10 s (the second in a row):
        // the client leaves at once and backs off like from a flapping node instead of drawing from the window.
        var left = client.StateAsync(e => e.Current == ConnectionState.Reconnecting);
        var third = server.AcceptAsync();
        await connection.SendAsync(w => FrameWriter.WriteGoAway(w, 0, "draining"));
        var goAway = await left;
        Assert.StartsWith("go_away", goAway.Reason, StringComparison.Ordinal);
        Assert.Equal(options.Reconnect.GetDelay(0, new FixedRandom(0.25)), goAway.RetryDelay);
        await third;
    }
}
