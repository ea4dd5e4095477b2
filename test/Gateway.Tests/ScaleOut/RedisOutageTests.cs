using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Gateway.Dispatch.Tests.Engines.Redis;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Gateway.Tests.ScaleOut;

/// <summary>
/// Issue 11: Redis killed for several seconds during a steady publish stream, then restarted (with its
/// append-only file): every acknowledged publish reaches the subscriber on the other node, every refused one
/// got the retryable engine_unavailable, no node crashed, and both nodes report the outage in /health/ready.
/// </summary>
public sealed class RedisOutageTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly RedisServer _redis = new() { Persistent = true };
    private GatewayServer _a = null!;
    private GatewayServer? _b;

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        _a = await GatewayServer.StartAsync(ClusterTests.Cluster.NodeSettings("outage-a", _redis.Configuration));
        _b = await GatewayServer.StartAsync(ClusterTests.Cluster.NodeSettings("outage-b", _redis.Configuration));
    }

    public async Task DisposeAsync()
    {
        if (_b is not null)
        {
            await _b.DisposeAsync();
        }

        await _a.DisposeAsync();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task Every_acknowledged_publish_is_delivered_across_a_redis_outage_and_every_refusal_is_retryable()
    {
        const string topic = "team:outage";
        var (subscriber, _) = await TestClient.ConnectAsync(_b!, GatewayServer.MintToken("outage-sub", subscribe: ["team:*"]), tcp: true);
        await using var _s = subscriber;
        await subscriber.SendAsync(Frames.Subscribe(1, topic));
        Assert.Equal(FrameKind.Subscribed, (await subscriber.ReceiveUntilAsync(f => f.Kind == FrameKind.Subscribed)).Kind);

        var delivered = new List<ulong>();
        using var stop = new CancellationTokenSource();
        var reader = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var frame = await subscriber.ReceiveAsync(TimeSpan.FromMilliseconds(500));
                    if (frame.Kind == FrameKind.Message)
                    {
                        lock (delivered)
                        {
                            delivered.Add(frame.Offset);
                        }
                    }
                }
                catch (TimeoutException)
                {
                }
            }
        });

        var acknowledged = new List<ulong>();
        var refused = 0;
        var sawDegraded = false;
        using var http = _a.CreateHttpClient();
        var clock = Stopwatch.StartNew();
        var killed = false;
        var restarted = false;
        var n = 0;
        var ackedBefore = 0;
        var ackedAfter = 0;

        // Publish through the outage and until a few publishes were acknowledged after Redis returned (bounded:
        // a loaded machine publishes slowly, so the count, not the clock, decides when there is enough evidence).
        while ((clock.Elapsed < TimeSpan.FromSeconds(9) || !restarted || ackedAfter < 5) && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (!killed && clock.Elapsed > TimeSpan.FromSeconds(1.5))
            {
                _redis.Stop();
                killed = true;
            }
            else if (killed && !restarted && clock.Elapsed > TimeSpan.FromSeconds(5))
            {
                using var health = await http.GetAsync("health/ready");
                var report = await health.Content.ReadAsStringAsync();
                // Degraded stays 200 (orchestrators keep the node; docs/operations.md) and says so in X-Health-Status,
                // which HAProxy uses to take the node out of its rotation while a Healthy node exists.
                sawDegraded = report.Contains("\"engineAvailable\": false", StringComparison.Ordinal) && report.Contains("unreachable", StringComparison.Ordinal)
                    && health.StatusCode == HttpStatusCode.OK && health.Headers.GetValues("X-Health-Status").Single() == "Degraded";
                await _redis.StartAsync();
                restarted = true;
            }

            var response = await http.PostAsJsonAsync("api/v1/publish", new { topic, payload = n++ });
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            if (response.StatusCode == HttpStatusCode.OK)
            {
                acknowledged.Add(body.GetProperty("offset").GetUInt64());
                if (!killed)
                {
                    ackedBefore++;
                }
                else if (restarted)
                {
                    ackedAfter++;
                }
            }
            else
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                Assert.Equal("engine_unavailable", body.GetProperty("error").GetString());
                Assert.True(body.GetProperty("retryable").GetBoolean());
                refused++;
            }

            await Task.Delay(20);
        }

        // Everything acknowledged arrives (live, or caught up from the stream after the reconnect), in order.
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            lock (delivered)
            {
                if (acknowledged.All(delivered.Contains))
                {
                    break;
                }
            }

            await Task.Delay(100);
        }

        await stop.CancelAsync();
        await reader;
        List<ulong> seen;
        lock (delivered)
        {
            seen = [.. delivered];
        }

        var lost = acknowledged.Except(seen).ToList();
        output.WriteLine($"publishes: {n}, acknowledged: {acknowledged.Count}, refused (engine_unavailable): {refused}, delivered: {seen.Count}, lost: {lost.Count}, delivered but reported refused (outcome unknown at the kill): {seen.Except(acknowledged).Count()}");
        Assert.Empty(lost);
        Assert.True(refused > 0, "the outage refused nothing: was Redis really down?");
        Assert.True(ackedBefore > 0 && ackedAfter >= 5, $"acknowledged before the outage {ackedBefore}, after it {ackedAfter}");
        Assert.Equal(seen.Order(), seen); // strictly increasing, no duplicate
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.True(sawDegraded, "/health/ready did not report the engine unavailable during the outage");

        // Both nodes are still serving.
        using var healthA = await _a.CreateHttpClient(withApiKey: false).GetAsync("health/live");
        using var healthB = await _b!.CreateHttpClient(withApiKey: false).GetAsync("health/live");
        Assert.Equal(HttpStatusCode.OK, healthA.StatusCode);
        Assert.Equal(HttpStatusCode.OK, healthB.StatusCode);
    }

    [Fact]
    public async Task A_frozen_redis_opens_the_circuit_so_publishes_fail_fast_and_it_closes_after_redis_returns()
    {
        // One node is enough here.
        await _b!.DisposeAsync();
        _b = null;
        using var http = _a.CreateHttpClient();
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync("api/v1/publish", new { topic = "team:freeze", payload = 0 })).StatusCode);

        _redis.Signal("STOP"); // frozen: connections stay open, every call times out (2 s in these tests)
        try
        {
            var slow = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => http.PostAsJsonAsync("api/v1/publish", new { topic = "team:freeze", payload = i })));
            Assert.All(slow, r => Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode));

            // The circuit is open now: the next publish is refused at once instead of waiting for a timeout.
            var clock = Stopwatch.StartNew();
            var fast = await http.PostAsJsonAsync("api/v1/publish", new { topic = "team:freeze", payload = 99 });
            clock.Stop();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, fast.StatusCode);
            Assert.Equal("engine_unavailable", (await fast.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}: the circuit did not open");
            var ready = await (await _a.CreateHttpClient(withApiKey: false).GetAsync("health/ready")).Content.ReadAsStringAsync();
            Assert.Contains("circuit open", ready, StringComparison.Ordinal);
            // The state is exported as a gauge too. Its value is not asserted here: every node of this test
            // process (other test classes run in parallel) exports the same unlabelled series.
            var metrics = await _a.CreateHttpClient(withApiKey: false).GetStringAsync("metrics");
            Assert.Contains("# TYPE gateway_dispatch_engine_circuit gauge", metrics, StringComparison.Ordinal);
        }
        finally
        {
            _redis.Signal("CONT");
        }

        // After the break a trial call goes through and the circuit closes again.
        var deadline = Stopwatch.StartNew();
        HttpStatusCode status;
        do
        {
            await Task.Delay(250);
            status = (await http.PostAsJsonAsync("api/v1/publish", new { topic = "team:freeze", payload = 100 })).StatusCode;
        }
        while (status != HttpStatusCode.OK && deadline.Elapsed < TimeSpan.FromSeconds(20));
        Assert.Equal(HttpStatusCode.OK, status);
        var after = await (await _a.CreateHttpClient(withApiKey: false).GetAsync("health/ready")).Content.ReadAsStringAsync();
        Assert.DoesNotContain("circuit open", after, StringComparison.Ordinal);
        Assert.Contains("\"engineAvailable\": true", after, StringComparison.Ordinal);
    }
}
