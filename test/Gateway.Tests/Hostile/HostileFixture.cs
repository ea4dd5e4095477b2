using System.Diagnostics;
using System.Runtime;
using Gateway.Dispatch;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Hostile;

/// <summary>
/// The one gateway every hostile case runs against (fixture of <see cref="HostileCollection"/>), with
/// short documented deadlines so the slow cases stay bounded: <c>Gateway:Connection:ConnectTimeout</c> 2 s,
/// <c>FrameTimeout</c> 3 s, 50 subscriptions per connection; everything else at its default.
/// It records the process RSS after start-up and warm-up (the server runs in the test process, so the
/// process is what is measured) for the RSS check that runs last (<see cref="HostileOrderer"/>).
/// </summary>
public sealed class HostileFixture : IAsyncLifetime
{
    /// <summary>Connect deadline of this server.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Frame deadline of this server.</summary>
    public static readonly TimeSpan FrameTimeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Kestrel's deadline for a whole HTTP request head, the WebSocket upgrade request included: its default
    /// (<c>KestrelServerLimits.RequestHeadersTimeout</c>), which the gateway does not change (docs/security.md).
    /// </summary>
    public static readonly TimeSpan RequestHeadersTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Subscription cap of this server.</summary>
    public const int MaxSubscriptions = 50;

    /// <summary>
    /// Slack on top of a deadline before a test calls it missed: the sweeper's tick, Kestrel's 1 s heartbeat and
    /// a loaded 2-core machine. A liveness bound, not a performance figure.
    /// </summary>
    public static readonly TimeSpan DeadlineSlack = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long the well-behaved client may wait for its own publish to come back after each case: the "normal
    /// latency" liveness bound (a node wedged by the previous case misses it; a busy CI machine does not).
    /// </summary>
    public static readonly TimeSpan HealthyLatencyBound = TimeSpan.FromSeconds(2);

    private GatewayServer? _server;
    private int _healthChecks;

    /// <summary>The running server.</summary>
    public GatewayServer Server => _server ?? throw new InvalidOperationException("Not started.");

    /// <summary>Process RSS (bytes) after start-up, warm-up and a forced GC; 0 before.</summary>
    public long BaselineRss { get; private set; }

    /// <summary>Rows of the suite report (case, outcome), written by the RSS check.</summary>
    public List<string> Report { get; } = [];

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Connection:ConnectTimeout"] = "00:00:02",
            ["Gateway:Connection:FrameTimeout"] = "00:00:03",
            ["Gateway:Limits:MaxSubscriptions"] = MaxSubscriptions.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Gateway"] = "Warning",
        });

        // Warm-up: JIT, pools and the first connections' one-off allocations belong to the baseline, not to the suite.
        for (var i = 0; i < 3; i++)
        {
            await AssertServesOthersAsync("warm-up");
        }

        BaselineRss = MeasureRssAfterFullGc();
        BaselineDetail = MemoryDetail();
    }

    /// <summary>The baseline's breakdown (<see cref="MemoryDetail"/>).</summary>
    public string BaselineDetail { get; private set; } = "";

    /// <summary>
    /// Where the resident memory is: anonymous (heaps, stacks) vs file-backed (mapped assemblies and native libraries),
    /// threads, and the GC's committed bytes — to tell a leak from one-off code loading.
    /// </summary>
    public static string MemoryDetail()
    {
        var fields = File.ReadLines("/proc/self/status")
            .Where(l => l.StartsWith("RssAnon:", StringComparison.Ordinal) || l.StartsWith("RssFile:", StringComparison.Ordinal) || l.StartsWith("Threads:", StringComparison.Ordinal))
            .Select(l => string.Join(' ', l.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries)));
        var gc = GC.GetGCMemoryInfo();
        return $"{string.Join(", ", fields)}, GC committed {gc.TotalCommittedBytes / 1024} kB, GC heap {gc.HeapSizeBytes / 1024} kB";
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>
    /// The check after every case: a fresh well-behaved client connects, subscribes, publishes to its topic and
    /// receives that publish within <see cref="HealthyLatencyBound"/>.
    /// </summary>
    public async Task AssertServesOthersAsync(string afterCase)
    {
        var n = Interlocked.Increment(ref _healthChecks);
        var topic = $"health:{n}";
        var token = GatewayServer.MintToken($"healthy-{n}", subscribe: ["health:*"], publish: ["health:*"]);
        var (client, _) = await TestClient.ConnectAsync(Server, token);
        await using var _c = client;
        await client.SendAsync(Frames.Subscribe(1, topic));
        var subscribed = await client.ReceiveAsync();
        Assert.True(subscribed.Kind == FrameKind.Subscribed, $"after {afterCase}: expected Subscribed, got {subscribed}");

        var clock = Stopwatch.StartNew();
        await client.SendAsync(Frames.Publish(2, topic, "still-alive"));
        var message = await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Message, timeout: HealthyLatencyBound);
        Assert.True(message.PayloadText == "still-alive", $"after {afterCase}: unexpected {message}");
        Assert.True(clock.Elapsed < HealthyLatencyBound, $"after {afterCase}: own publish took {clock.Elapsed.TotalMilliseconds:F0} ms");
    }

    /// <summary>Connections the dispatcher holds now.</summary>
    public int ConnectionCount => Server.GetRequiredService<Dispatcher>().ConnectionCount;

    /// <summary>Whether a session of <paramref name="userId"/> is registered.</summary>
    public bool HasSession(string userId) => Server.GetRequiredService<Dispatcher>().GetUserConnectionCount(userId) > 0;

    /// <summary>
    /// Forces a full blocking compacting collection (large object heap included), waits for finalizers, then asks the
    /// GC for an aggressive collection (also blocking and compacting, and it gives freed memory back to the OS instead
    /// of keeping it for later allocations), then reads this process's resident set (VmRSS of /proc/self/status, bytes).
    /// </summary>
    public static long MeasureRssAfterFullGc()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                // "VmRSS:    123456 kB"
                var kb = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
                return kb * 1024;
            }
        }

        throw new InvalidOperationException("VmRSS not found in /proc/self/status.");
    }
}
