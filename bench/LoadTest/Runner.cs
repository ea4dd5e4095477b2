using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Gateway.Protocol.Frames;
using LoadTest.Targets;

namespace LoadTest;

/// <summary>Switchable delivery sink (lets phases use separate recorders).</summary>
public sealed class SwitchHandler(IDeliveryHandler current) : IDeliveryHandler
{
    public volatile IDeliveryHandler Current = current;

    public void OnDelivery(BenchConnection connection, ReadOnlySpan<byte> payload, Priority priority, ulong offset, bool replayed, int topicHash) =>
        Current.OnDelivery(connection, payload, priority, offset, replayed, topicHash);
}

/// <summary>What one process's subscribers measured (shipped from workers as JSON).</summary>
public sealed class ShardResult
{
    public long[][][] Hist { get; set; } = [[], [], [], []];
    public long Arrivals { get; set; }
    public long ArrivalBytes { get; set; }
    public long WindowMessages { get; set; }
    public long Replayed { get; set; }
    public long Gaps { get; set; }
    public int Open { get; set; }
    public ConnSnapshot Window { get; set; } = new(0, 0, 0, 0, 0);
    public Dictionary<string, int> CloseReasons { get; set; } = [];

    /// <summary>Connections by number of messages received (hold scenario: 1 = got the broadcast exactly once).</summary>
    public Dictionary<long, int> DeliveriesPerConnection { get; set; } = [];

    public static ShardResult From(Recorder r, Shard s, ConnSnapshot window) => new()
    {
        DeliveriesPerConnection = s.Connections.Values.GroupBy(c => Volatile.Read(ref c.Deliveries)).ToDictionary(g => g.Key, g => g.Count()),
        Hist = [.. Enumerable.Range(0, 4).Select(p => HistogramTransfer.Export(r.Histogram((Priority)p)))],
        Arrivals = r.Arrivals,
        ArrivalBytes = r.ArrivalBytes,
        WindowMessages = r.WindowMessages,
        Replayed = r.ReplayedCount,
        Gaps = s.Connections.Values.Sum(c => c.Gaps),
        Open = s.Connections.Values.Count(c => !c.Closed),
        Window = window,
        CloseReasons = s.Connections.Values.Where(c => c.Closed).GroupBy(c => c.CloseReason ?? "?").ToDictionary(g => g.Key, g => g.Count()),
    };
}

/// <summary>Runs one scenario against one target and produces a <see cref="RunResult"/>.</summary>
public sealed class Runner
{
    private readonly RunOptions _o;
    private readonly Target _target;
    private readonly Target[] _targets;
    private readonly RunResult _r;
    private readonly CancellationTokenSource _cts;
    private int _pid;
    private int[] _pids = [];
    private long[] _rssBasePerNode = [];

    public Runner(RunOptions o)
    {
        _o = o;
        if (o.Label.Length == 0)
        {
            o.Label = $"{o.Scenario}-{o.Target}-{(o.Rate > 0 ? o.Rate.ToString(System.Globalization.CultureInfo.InvariantCulture) : "max")}";
        }

        var ip = IPAddress.Parse(o.Host);
        if (!IPAddress.IsLoopback(ip))
        {
            throw new ArgumentException("Load traffic goes to loopback addresses only (127.0.0.0/8, ::1).");
        }

        var settings = new TargetSettings(o.JwtSecret, o.JwtKid, "archmesh", "archmesh-gateway", o.ApiKey, o.PublishVia, o.HttpPort > 0 ? new IPEndPoint(ip, o.HttpPort) : null);
        _targets = Target.CreateAll(o.Target, ip, o.Port, o.Ports, settings);
        _target = _targets[0];
        _r = new RunResult { Label = o.Label, Scenario = o.Scenario, Target = o.Target, StartedUtc = DateTime.UtcNow.ToString("O"), Options = o };
        _cts = new CancellationTokenSource(TimeSpan.FromSeconds(o.Timeout));
    }

    private static long Ticks(double seconds) => (long)(seconds * Stopwatch.Frequency);

    private static async Task DelayUntil(long ticks, CancellationToken ct)
    {
        var ms = (ticks - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency;
        if (ms > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(ms), ct).ConfigureAwait(false);
        }
    }

    public async Task<RunResult> RunAsync()
    {
        _pid = _o.ServerPid > 0 ? _o.ServerPid : ServerProcess.FindListener(_target.Endpoint.Port);
        _pids = _o.ServerPids.Length > 0
            ? [.. _o.ServerPids.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse)]
            : _targets.Length > 1 ? [.. _targets.Select(t => ServerProcess.FindListener(t.Endpoint.Port))] : [_pid];
        _pid = _pids[0];
        _r.Server.Pid = _pid;
        _r.Server.RssBaseKiB = Rss();
        _rssBasePerNode = _pids.Select(ServerProcess.RssKiB).ToArray();
        if (_targets.Length > 1)
        {
            _r.Extra["nodes"] = string.Join(", ", _targets.Select((t, i) => $"{t.Endpoint} (pid {_pids.ElementAtOrDefault(i)})"));
        }

        Console.Error.WriteLine($"[{_o.Label}] {_o.Scenario} → {_target.Name} {string.Join(", ", _targets.Select(t => t.Endpoint))}, server pid(s) {string.Join(",", _pids)}, {_o.Connections} connections");
        switch (_o.Scenario)
        {
            case "idle":
            case "hold":
            case "broadcast":
            case "fanout":
                await RunTrafficAsync().ConfigureAwait(false);
                break;
            case "priority":
                await RunPriorityAsync().ConfigureAwait(false);
                break;
            case "slow":
                await RunSlowAsync().ConfigureAwait(false);
                break;
            case "churn":
                await RunChurnAsync().ConfigureAwait(false);
                break;
            case "notify":
                await RunNotifyAsync().ConfigureAwait(false);
                break;
            case "soak":
                await new SoakRunner(_o, _target, _pid, _r, _cts.Token).RunAsync().ConfigureAwait(false);
                break;
            default:
                throw new ArgumentException("Unknown scenario " + _o.Scenario);
        }

        _r.Server.RssEndKiB = Rss();
        _r.Server.HwmKiB = _pids.Sum(ServerProcess.HwmKiB);
        _r.Server.Threads = _pids.Sum(ServerProcess.Threads);
        return _r;
    }

    /// <summary>hold: one broadcast over the HTTP API (through the first target, e.g. a load balancer), then time for it to arrive.</summary>
    private async Task BroadcastOnceAsync(CancellationToken ct)
    {
        var http = _o.HttpPort > 0 ? new System.Net.IPEndPoint(_target.Endpoint.Address, _o.HttpPort) : _target.Endpoint;
        using var req = new HttpRequestMessage(HttpMethod.Post, $"http://{http}/api/v1/broadcast")
        {
            Content = new StringContent("{\"payload\":\"hold-check\"}", System.Text.Encoding.UTF8, "application/json"),
        };
        req.Headers.Add("X-Api-Key", _o.ApiKey);
        using var resp = await ArchMeshTarget.HttpClient.SendAsync(req, ct).ConfigureAwait(false);
        var body = await resp.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        _r.Extra["broadcastAnswer"] = $"{(int)resp.StatusCode} {body}";
        Console.Error.WriteLine($"[{_o.Label}] broadcast → {(int)resp.StatusCode} {body}");
        await Task.Delay(TimeSpan.FromSeconds(Math.Max(1, _o.Drain)), ct).ConfigureAwait(false);
    }

    // Server figures summed over the nodes (one node unless --ports/--server-pids name several).
    private long Rss() => _pids.Sum(ServerProcess.RssKiB);

    private double Cpu() => _pids.Sum(ServerProcess.CpuSeconds);

    private long Ctx() => _pids.Sum(ServerProcess.ContextSwitches);

    private Priority PriorityOf(long seq) => _o.Priorities switch
    {
        "low" => Priority.Low,
        "critical" => Priority.Critical,
        "high" => Priority.High,
        "mixed" => (seq % 20) switch
        {
            0 => Priority.Critical,
            1 or 2 or 3 => Priority.High,
            < 12 => Priority.Normal,
            _ => Priority.Low,
        },
        _ => Priority.Normal,
    };

    private int GroupSize(int g) => (_o.Connections / _o.Groups) + (g < _o.Connections % _o.Groups ? 1 : 0);

    private int Recipients(Dest d) => d.Kind switch
    {
        DestKind.Broadcast => _o.Connections,
        DestKind.Group => GroupSize(d.Id),
        _ => 1,
    };

    private (Dest, Priority) FanoutPlan(long seq)
    {
        Dest d;
        if (_o.Groups <= 0)
        {
            d = Dest.All;
        }
        else if (_o.PersonalFraction > 0 && (seq * 2654435761L % 1000) < _o.PersonalFraction * 1000)
        {
            d = new Dest(DestKind.User, (int)((seq * 7919) % _o.Connections));
        }
        else
        {
            d = new Dest(DestKind.Group, (int)(seq % _o.Groups));
        }

        return (d, PriorityOf(seq));
    }

    private Task<(BenchConnection Conn, CountingHandler Echo)> ConnectPublisherAsync(int id) => ConnectPublisherAsync(id, _target);

    private async Task<(BenchConnection Conn, CountingHandler Echo)> ConnectPublisherAsync(int id, Target target)
    {
        var echo = new CountingHandler();
        var filter = new EchoFilter((byte)id, echo);
        var groups = _o.Groups > 0 ? Enumerable.Range(0, _o.Groups).ToArray() : [];
        var conn = await target.ConnectAsync(new ClientSpec(1_000_000 + id, groups, true, Shard.Source(_o, id), filter, BufferSize: 1 << 20), _cts.Token).ConfigureAwait(false);
        return (conn, echo);
    }

    private sealed class EchoFilter(byte id, CountingHandler inner) : IDeliveryHandler
    {
        public void OnDelivery(BenchConnection connection, ReadOnlySpan<byte> payload, Priority priority, ulong offset, bool replayed, int topicHash)
        {
            if (Publisher.IdOf(payload) == id)
            {
                inner.OnDelivery(connection, payload, priority, offset, replayed, topicHash);
            }
        }
    }

    private void SetConnect(ConnectStats s)
    {
        var h = Recorder.NewHistogram();
        HistogramTransfer.Import(h, s.TimeHistogram);
        _r.Connect = new ConnectSummary
        {
            Requested = s.Requested,
            Connected = s.Connected,
            Failed = s.Failed,
            SuccessRate = s.Requested == 0 ? 0 : Math.Round(s.Connected / (double)s.Requested, 5),
            Seconds = s.Seconds,
            PerSecond = s.Seconds > 0 ? Math.Round(s.Connected / s.Seconds, 1) : 0,
            TimeMs = LatencySummary.From(h),
            Errors = s.Errors,
        };
        _r.Errors.AddRange(s.Errors.Select(e => "connect: " + e));
    }

    private void SetPublish(double rate, IEnumerable<Publisher> pubs)
    {
        var list = pubs.ToList();
        _r.Publish = new PublishSummary
        {
            TargetRate = rate,
            Mode = rate > 0 ? "open loop" : $"closed loop, window {_o.Window}",
            Published = list.Sum(p => p.Published),
            WindowPublished = list.Sum(p => p.WindowPublished),
            AchievedRate = Math.Round(list.Sum(p => p.WindowPublished) / _o.Duration, 1),
            Errors = list.Sum(p => p.Errors),
            WindowStalls = list.Sum(p => p.Stalls),
            MaxSendLagMs = Math.Round(list.Max(p => p.MaxLagMs), 3),
        };
        foreach (var p in list.Where(p => p.LastError != null))
        {
            _r.Errors.Add("publisher: " + p.LastError);
        }
    }

    private void SetDelivery(ShardResult s, long expected)
    {
        var d = _o.Duration;
        _r.Delivery = new DeliverySummary
        {
            Expected = expected,
            WindowDelivered = s.WindowMessages,
            Completeness = expected > 0 ? Math.Round(s.WindowMessages / (double)expected, 6) : double.NaN,
            DeliveriesPerSec = Math.Round(s.Arrivals / d, 1),
            BytesPerSec = Math.Round(s.Window.BytesIn / d, 1),
            FramesPerSec = Math.Round(s.Window.Frames / d, 1),
            TransportMessagesPerSec = Math.Round(s.Window.TransportMessages / d, 1),
            ReadsPerSec = Math.Round(s.Window.Reads / d, 1),
            DeliveriesPerRead = s.Window.Reads > 0 ? Math.Round(s.Window.Deliveries / (double)s.Window.Reads, 2) : 0,
            Gaps = s.Gaps,
            Replayed = s.Replayed,
        };
        var all = Recorder.NewHistogram();
        for (var p = 0; p < 4; p++)
        {
            var h = Recorder.NewHistogram();
            HistogramTransfer.Import(h, s.Hist[p]);
            if (h.TotalCount > 0)
            {
                _r.LatencyByPriority[((Priority)p).ToString().ToLowerInvariant()] = LatencySummary.From(h);
            }

            all.Add(h);
        }

        _r.Latency = LatencySummary.From(all);
        _r.LatencyHistogram = HistogramTransfer.ExportCompact(all);
        if (_r.LatencyByPriority.Count == 1)
        {
            _r.LatencyByPriority.Clear();
        }

        if (s.CloseReasons.Count > 0)
        {
            _r.Extra["closedDuringRun"] = s.CloseReasons;
        }
    }

    private static ShardResult Merge(IEnumerable<ShardResult> parts)
    {
        var list = parts.ToList();
        var m = new ShardResult();
        var hs = Enumerable.Range(0, 4).Select(_ => Recorder.NewHistogram()).ToArray();
        foreach (var p in list)
        {
            for (var i = 0; i < 4; i++)
            {
                HistogramTransfer.Import(hs[i], p.Hist[i]);
            }

            m.Arrivals += p.Arrivals;
            m.ArrivalBytes += p.ArrivalBytes;
            m.WindowMessages += p.WindowMessages;
            m.Replayed += p.Replayed;
            m.Gaps += p.Gaps;
            m.Open += p.Open;
            m.Window = m.Window.Plus(p.Window);
            foreach (var (k, v) in p.CloseReasons)
            {
                m.CloseReasons[k] = m.CloseReasons.GetValueOrDefault(k) + v;
            }
        }

        m.Hist = [.. hs.Select(HistogramTransfer.Export)];
        return m;
    }

    private void ServerWindow(double cpu0, long ctx0, double cpu1, long ctx1, double seconds)
    {
        if (_pid > 0)
        {
            _r.Server.CpuPercent = Math.Round((cpu1 - cpu0) / seconds * 100, 1);
            _r.Server.ContextSwitchesPerSec = Math.Round((ctx1 - ctx0) / seconds, 0);
        }
    }

    /// <summary>idle / broadcast / fanout, with worker processes above --per-process.</summary>
    private async Task RunTrafficAsync()
    {
        var ct = _cts.Token;
        var recorder = new Recorder();
        var shard = new Shard(_targets, _o, recorder);
        var local = Math.Min(_o.Connections, _o.PerProcess);
        var workers = new List<WorkerProcess>();
        for (var from = local; from < _o.Connections; from += _o.PerProcess)
        {
            workers.Add(WorkerProcess.Start(_o, from, Math.Min(_o.Connections, from + _o.PerProcess)));
        }

        var localConnect = shard.ConnectAsync(0, local, null, ct);
        var stats = await localConnect.ConfigureAwait(false);
        foreach (var w in workers)
        {
            stats.Merge(await w.ReadyAsync(ct).ConfigureAwait(false));
        }

        SetConnect(stats);
        Console.Error.WriteLine($"[{_o.Label}] connected {stats.Connected}/{stats.Requested} in {stats.Seconds:0.0} s");
        if (_o.Scenario is "idle" or "hold")
        {
            var rssConnected = Rss();
            await Task.Delay(TimeSpan.FromSeconds(_o.Hold), ct).ConfigureAwait(false);
            var rssHeld = Rss();
            var perNodeHeld = _pids.Select(ServerProcess.RssKiB).ToArray();
            if (_o.Scenario == "hold")
            {
                await BroadcastOnceAsync(ct).ConfigureAwait(false);
            }

            var parts = new List<ShardResult> { ShardResult.From(recorder, shard, new ConnSnapshot(0, 0, 0, 0, 0)) };
            foreach (var w in workers)
            {
                parts.Add(await w.StopAsync(ct).ConfigureAwait(false));
            }

            var m = Merge(parts);
            _r.Server.RssPerConnectionKiB = stats.Connected > 0 ? Math.Round((rssHeld - _r.Server.RssBaseKiB) / (double)stats.Connected, 2) : 0;
            _r.Extra["rssAfterRampKiB"] = rssConnected;
            _r.Extra["rssAfterHoldKiB"] = rssHeld;
            _r.Extra["openAfterHold"] = m.Open;
            _r.Extra["holdSeconds"] = _o.Hold;
            _r.Extra["connectPerSecond"] = stats.Seconds > 0 ? Math.Round(stats.Connected / stats.Seconds, 0) : 0;
            if (_pids.Length > 1)
            {
                _r.Extra["rssPerNodeKiB"] = perNodeHeld;
                _r.Extra["rssBasePerNodeKiB"] = _rssBasePerNode;
            }

            if (_o.Scenario == "hold")
            {
                var byCount = new Dictionary<long, int>();
                foreach (var (k, v) in parts.SelectMany(p => p.DeliveriesPerConnection))
                {
                    byCount[k] = byCount.GetValueOrDefault(k) + v;
                }

                // Every connection received exactly the one broadcast: "once" must equal the connections held.
                _r.Extra["broadcastReceivedOnce"] = byCount.GetValueOrDefault(1);
                _r.Extra["broadcastMissing"] = byCount.GetValueOrDefault(0);
                _r.Extra["broadcastDuplicated"] = byCount.Where(kv => kv.Key > 1).Sum(kv => kv.Value);
            }
            if (m.CloseReasons.Count > 0)
            {
                _r.Extra["closedDuringHold"] = m.CloseReasons;
            }

            await shard.CloseAllAsync().ConfigureAwait(false);
            return;
        }

        // One publisher per node (ids 1..n); open loop: each at --rate / n, so --rate stays the total publish rate.
        var pubConns = new List<BenchConnection>();
        var pubs = new List<Publisher>();
        for (var k = 0; k < _targets.Length; k++)
        {
            var (c, e) = await ConnectPublisherAsync(k + 1, _targets[k]).ConfigureAwait(false);
            pubConns.Add(c);
            pubs.Add(new Publisher(c, (byte)(k + 1), _o.Window, e) { Plan = FanoutPlan, Recipients = Recipients, PayloadSize = _o.PayloadSize });
        }

        var start = Stopwatch.GetTimestamp() + Ticks(0.2);
        var ws = start + Ticks(_o.Warmup);
        var we = ws + Ticks(_o.Duration);
        recorder.WindowStart = ws;
        recorder.WindowEnd = we;
        foreach (var w in workers)
        {
            w.Go(ws, we);
        }

        var threads = pubs.Select(p => p.Start(_o.Rate / pubs.Count, start, we, ws, we)).ToList();
        await DelayUntil(ws, ct).ConfigureAwait(false);
        var snap0 = shard.Snapshot();
        var cpu0 = Cpu();
        var ctx0 = Ctx();
        var perNode0 = _pids.Select(ServerProcess.CpuSeconds).ToArray();
        var published0 = pubs.Sum(p => Interlocked.Read(ref p.Published));
        var redis0 = RedisStats.CommandCalls(_o.RedisPort);
        await DelayUntil(we, ct).ConfigureAwait(false);
        var snap1 = shard.Snapshot();
        var cpu1 = Cpu();
        var ctx1 = Ctx();
        var perNode1 = _pids.Select(ServerProcess.CpuSeconds).ToArray();
        var published1 = pubs.Sum(p => Interlocked.Read(ref p.Published));
        var redis1 = RedisStats.CommandCalls(_o.RedisPort);
        _r.Server.RssEndKiB = Rss();
        foreach (var t in threads)
        {
            t.Join();
        }

        ServerWindow(cpu0, ctx0, cpu1, ctx1, _o.Duration);
        if (_pids.Length > 1)
        {
            _r.Extra["cpuPercentPerNode"] = perNode1.Zip(perNode0, (b, a) => Math.Round((b - a) / _o.Duration * 100, 1)).ToArray();
        }

        if (_o.RedisPort > 0)
        {
            RedisStats.Report(_r, redis0, redis1, published1 - published0);
        }

        var expected = pubs.Sum(p => p.Expected);
        await DrainAsync(shard, expected, recorder).ConfigureAwait(false);
        var results = new List<ShardResult> { ShardResult.From(recorder, shard, snap1.Minus(snap0)) };
        foreach (var w in workers)
        {
            results.Add(await w.StopAsync(ct).ConfigureAwait(false));
        }

        SetPublish(_o.Rate, pubs);
        _r.Publish.Acks = pubConns.Sum(c => c.PublishAcks);
        _r.Publish.Errors += pubConns.Sum(c => c.PublishErrors);
        foreach (var c in pubConns.Where(c => c.LastError != null))
        {
            _r.Errors.Add("publisher connection: " + c.LastError);
        }

        SetDelivery(Merge(results), expected);
        foreach (var c in pubConns)
        {
            await c.CloseAsync().ConfigureAwait(false);
        }

        await shard.CloseAllAsync().ConfigureAwait(false);
    }

    /// <summary>Waits until deliveries stop arriving (300 ms quiet), all expected ones arrived, or --drain elapses.</summary>
    private async Task DrainAsync(Shard shard, long expected, Recorder recorder)
    {
        var deadline = Stopwatch.GetTimestamp() + Ticks(_o.Drain);
        var last = shard.Snapshot().Deliveries;
        var quietSince = Stopwatch.GetTimestamp();
        while (Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(50).ConfigureAwait(false);
            if (_o.Connections > _o.PerProcess)
            {
                continue; // worker processes may still be receiving: wait the whole --drain
            }

            if (recorder.WindowMessages >= expected)
            {
                return;
            }

            var now = shard.Snapshot().Deliveries;
            if (now != last)
            {
                last = now;
                quietSince = Stopwatch.GetTimestamp();
            }
            else if (Stopwatch.GetTimestamp() - quietSince > Ticks(0.3))
            {
                return;
            }
        }
    }

    /// <summary>priority: critical probes alone (baseline), then with a closed-loop low-priority publisher saturating the node.</summary>
    private async Task RunPriorityAsync()
    {
        var ct = _cts.Token;
        var idle = new Recorder();
        var loaded = new Recorder();
        var sw = new SwitchHandler(idle);
        var shard = new Shard(_target, _o, sw);
        SetConnect(await shard.ConnectAsync(0, _o.Connections, null, ct).ConfigureAwait(false));
        var (critConn, critEcho) = await ConnectPublisherAsync(1).ConfigureAwait(false);
        var (lowConn, lowEcho) = await ConnectPublisherAsync(2).ConfigureAwait(false);
        var results = new Dictionary<string, object>();

        Publisher Crit() => new(critConn, 1, _o.Window, critEcho)
        {
            Plan = s => (_o.Groups > 0 ? new Dest(DestKind.Group, (int)(s % _o.Groups)) : Dest.All, Priority.Critical),
            Recipients = Recipients,
            PayloadSize = _o.PayloadSize,
        };

        // Phase A: critical only.
        var a = Crit();
        var start = Stopwatch.GetTimestamp() + Ticks(0.2);
        var ws = start + Ticks(_o.Warmup);
        var we = ws + Ticks(_o.Duration);
        (idle.WindowStart, idle.WindowEnd) = (ws, we);
        a.Start(_o.CriticalRate, start, we, ws, we).Join();
        await DrainAsync(shard, a.Expected, idle).ConfigureAwait(false);
        var idleLat = LatencySummary.From(idle.Histogram(Priority.Critical));

        // Phase B: critical probes + low saturation.
        sw.Current = loaded;
        var b = Crit();
        var low = new Publisher(lowConn, 2, _o.Window, lowEcho)
        {
            Plan = s => (_o.Groups > 0 ? new Dest(DestKind.Group, (int)(s % _o.Groups)) : Dest.All, Priority.Low),
            Recipients = Recipients,
            PayloadSize = _o.PayloadSize,
        };
        start = Stopwatch.GetTimestamp() + Ticks(0.2);
        ws = start + Ticks(_o.Warmup);
        we = ws + Ticks(_o.Duration);
        (loaded.WindowStart, loaded.WindowEnd) = (ws, we);
        var lowThread = low.Start(_o.Rate, start, we, ws, we);
        var critThread = b.Start(_o.CriticalRate, start, we, ws, we);
        await DelayUntil(ws, ct).ConfigureAwait(false);
        var snap0 = shard.Snapshot();
        var cpu0 = Cpu();
        var ctx0 = Ctx();
        await DelayUntil(we, ct).ConfigureAwait(false);
        var snap1 = shard.Snapshot();
        ServerWindow(cpu0, ctx0, Cpu(), Ctx(), _o.Duration);
        lowThread.Join();
        critThread.Join();
        await DrainAsync(shard, b.Expected + low.Expected, loaded).ConfigureAwait(false);
        SetPublish(_o.Rate, [b, low]);
        SetDelivery(ShardResult.From(loaded, shard, snap1.Minus(snap0)), b.Expected + low.Expected);
        var loadedCrit = LatencySummary.From(loaded.Histogram(Priority.Critical));
        var loadedLow = LatencySummary.From(loaded.Histogram(Priority.Low));
        _r.LatencyByPriority["critical-idle"] = idleLat;
        _r.LatencyByPriority["critical-loaded"] = loadedCrit;
        _r.LatencyByPriority["low-loaded"] = loadedLow;
        _r.Extra["criticalP99Ratio"] = Math.Round(loadedCrit.P99 / idleLat.P99, 2);
        _r.Extra["criticalCompletenessLoaded"] = b.Expected > 0 ? Math.Round(loaded.Histogram(Priority.Critical).TotalCount / (double)b.Expected, 5) : 0;
        _r.Extra["lowWindowPublished"] = low.WindowPublished;
        _r.Extra["lowDeliveriesPerSec"] = Math.Round(loaded.Histogram(Priority.Low).TotalCount / _o.Duration, 0);
        await critConn.CloseAsync().ConfigureAwait(false);
        await lowConn.CloseAsync().ConfigureAwait(false);
        await shard.CloseAllAsync().ConfigureAwait(false);
    }

    /// <summary>slow: a fraction of subscribers stop reading; measure the others, then see what happened to the slow ones.</summary>
    private async Task RunSlowAsync()
    {
        var ct = _cts.Token;
        var recorder = new Recorder();
        var slowCount = new CountingHandler();
        var slowSet = new HashSet<int>();
        var every = _o.SlowFraction > 0 ? Math.Max(1, (int)Math.Round(1 / _o.SlowFraction)) : int.MaxValue;
        for (var i = 0; i < _o.Connections; i++)
        {
            // Spread over the groups: client i is in group i % groups.
            if ((_o.Groups > 0 ? i / _o.Groups : i) % every == 0)
            {
                slowSet.Add(i);
            }
        }

        recorder.Exclude = c => slowSet.Contains(c.Index);
        recorder.ExcludedSink = slowCount;
        var shard = new Shard(_target, _o, recorder);
        SetConnect(await shard.ConnectAsync(0, _o.Connections, null, ct).ConfigureAwait(false));
        var slow = shard.Connections.Where(kv => slowSet.Contains(kv.Key)).Select(kv => kv.Value).ToList();
        foreach (var c in slow)
        {
            c.Pause();
        }

        var (pubConn, echo) = await ConnectPublisherAsync(1).ConfigureAwait(false);
        var rate = _o.Rate > 0 ? _o.Rate : 1000;
        var pub = new Publisher(pubConn, 1, _o.Window, echo) { Plan = FanoutPlan, Recipients = Recipients, PayloadSize = _o.PayloadSize };
        var start = Stopwatch.GetTimestamp() + Ticks(0.2);
        var ws = start + Ticks(_o.Warmup);
        var we = ws + Ticks(_o.Duration);
        (recorder.WindowStart, recorder.WindowEnd) = (ws, we);
        var thread = pub.Start(rate, start, we, ws, we);
        await DelayUntil(ws, ct).ConfigureAwait(false);
        var snap0 = shard.Snapshot();
        var cpu0 = Cpu();
        var ctx0 = Ctx();
        await DelayUntil(we, ct).ConfigureAwait(false);
        var snap1 = shard.Snapshot();
        ServerWindow(cpu0, ctx0, Cpu(), Ctx(), _o.Duration);
        _r.Server.RssEndKiB = Rss();
        thread.Join();
        var fastExpected = pub.Expected * (_o.Connections - slow.Count) / Math.Max(1, _o.Connections);
        await DrainAsync(shard, fastExpected, recorder).ConfigureAwait(false);
        SetPublish(rate, [pub]);
        SetDelivery(ShardResult.From(recorder, shard, snap1.Minus(snap0)), fastExpected);

        // What happened to the slow ones: closed by the server (close code), or shed with gaps?
        var closedWhilePaused = slow.Count(c => !c.Socket.Connected || c.Closed);
        foreach (var c in slow)
        {
            c.Resume();
        }

        await Task.Delay(TimeSpan.FromSeconds(Math.Min(5, _o.Drain)), ct).ConfigureAwait(false);
        _r.Extra["slowClients"] = slow.Count;
        _r.Extra["slowClosedByServer"] = slow.Count(c => c.Closed);
        _r.Extra["slowCloseReasons"] = slow.Where(c => c.Closed).GroupBy(c => c.CloseReason ?? "?").ToDictionary(g => g.Key, g => g.Count());
        _r.Extra["slowDeliveriesTotal"] = slowCount.Count;
        _r.Extra["slowExpectedTotal"] = _o.Groups > 0 ? pub.Published * slow.Count / _o.Groups : pub.Published * slow.Count;
        _r.Extra["slowGaps(shed)"] = slow.Sum(c => c.Gaps);
        _r.Extra["fastGaps"] = shard.Connections.Values.Where(c => !slowSet.Contains(c.Index)).Sum(c => c.Gaps);
        _r.Extra["closedWhilePausedSeen"] = closedWhilePaused;
        await pubConn.CloseAsync().ConfigureAwait(false);
        await shard.CloseAllAsync().ConfigureAwait(false);
    }

    /// <summary>churn: steady subscribers + broadcast traffic while clients connect and disconnect at --churn-rate.</summary>
    private async Task RunChurnAsync()
    {
        var ct = _cts.Token;
        var recorder = new Recorder();
        var shard = new Shard(_target, _o, recorder);
        SetConnect(await shard.ConnectAsync(0, _o.Connections, null, ct).ConfigureAwait(false));
        var (pubConn, echo) = await ConnectPublisherAsync(1).ConfigureAwait(false);
        var rate = _o.Rate > 0 ? _o.Rate : 100;
        var pub = new Publisher(pubConn, 1, _o.Window, echo) { Plan = FanoutPlan, Recipients = Recipients, PayloadSize = _o.PayloadSize };
        var start = Stopwatch.GetTimestamp() + Ticks(0.2);
        var ws = start + Ticks(_o.Warmup);
        var we = ws + Ticks(_o.Duration);
        (recorder.WindowStart, recorder.WindowEnd) = (ws, we);
        var thread = pub.Start(rate, start, we, ws, we);

        // Churn: the first 20% of the clients are recycled round robin: close one, open a fresh one for the same index.
        var pool = Math.Max(1, _o.Connections / 5);
        var connectHist = Recorder.NewHistogram();
        long connects = 0, disconnects = 0, failures = 0;
        var errors = new ConcurrentQueue<string>();
        var churnTasks = new List<Task>();
        var interval = 1.0 / Math.Max(0.1, _o.ChurnRate);
        var next = 0;
        var churnStart = Stopwatch.GetTimestamp();
        for (long k = 0; Stopwatch.GetTimestamp() < we; k++)
        {
            await DelayUntil(churnStart + Ticks(k * interval), ct).ConfigureAwait(false);
            var idx = next++ % pool;
            churnTasks.Add(Task.Run(
                async () =>
                {
                    if (shard.Connections.TryRemove(idx, out var old))
                    {
                        await old.CloseAsync().ConfigureAwait(false);
                        Interlocked.Increment(ref disconnects);
                    }

                    var t0 = Stopwatch.GetTimestamp();
                    try
                    {
                        var c = await _target.ConnectAsync(shard.Spec(idx), ct).ConfigureAwait(false);
                        shard.Connections[idx] = c;
                        Interlocked.Increment(ref connects);
                        lock (connectHist)
                        {
                            connectHist.RecordValue(Math.Clamp((long)((Stopwatch.GetTimestamp() - t0) * 1e6 / Stopwatch.Frequency), 1, Recorder.MaxMicros));
                        }
                    }
                    catch (Exception e)
                    {
                        Interlocked.Increment(ref failures);
                        errors.Enqueue(e.Message);
                    }
                },
                ct));
        }

        thread.Join();
        await Task.WhenAll(churnTasks).ConfigureAwait(false);
        await DrainAsync(shard, long.MaxValue, recorder).ConfigureAwait(false);
        SetPublish(rate, [pub]);
        SetDelivery(ShardResult.From(recorder, shard, new ConnSnapshot(0, 0, 0, 0, 0)), pub.Expected);
        _r.Delivery.Completeness = double.NaN; // recycled clients miss what was sent while they were away
        _r.Extra["churnConnects"] = connects;
        _r.Extra["churnDisconnects"] = disconnects;
        _r.Extra["churnFailures"] = failures;
        _r.Extra["churnPerSecAchieved"] = Math.Round(connects / ((Stopwatch.GetTimestamp() - churnStart) / (double)Stopwatch.Frequency), 1);
        _r.Extra["churnConnectMs"] = LatencySummary.From(connectHist);
        _r.Errors.AddRange(errors.Take(10).Select(e => "churn: " + e));
        await pubConn.CloseAsync().ConfigureAwait(false);
        await shard.CloseAllAsync().ConfigureAwait(false);
    }

    /// <summary>notify: per-user notifications (user:{id}) with acks; some users reconnect, pending ones are redelivered.</summary>
    private async Task RunNotifyAsync()
    {
        if (!_target.IsArchMesh)
        {
            throw new ArgumentException("notify needs an ArchMesh target (acks, pending notifications).");
        }

        var ct = _cts.Token;
        var recorder = new Recorder();
        var seen = new ConcurrentDictionary<int, long>();
        long duplicates = 0;
        var tracker = new NotifyTracker(recorder, seen, () => Interlocked.Increment(ref duplicates));
        var perMille = (int)Math.Round(Math.Clamp(_o.AckFraction, 0, 1) * 1000);
        var shard = new Shard(_target, _o, tracker);
        SetConnect(await shard.ConnectAsync(0, _o.Connections, NotifySpecFor(shard, tracker, perMille), ct).ConfigureAwait(false));
        var (pubConn, echo) = await ConnectPublisherAsync(1).ConfigureAwait(false);
        var rate = _o.Rate > 0 ? _o.Rate : 1000;
        var pub = new Publisher(pubConn, 1, _o.Window, echo)
        {
            Plan = s => (new Dest(DestKind.User, (int)(s % _o.Connections)), PriorityOf(s)),
            Recipients = _ => 1,
            Echoes = _ => false,
            PayloadSize = _o.PayloadSize,
        };
        var start = Stopwatch.GetTimestamp() + Ticks(0.2);
        var ws = start + Ticks(_o.Warmup);
        var we = ws + Ticks(_o.Duration);
        (recorder.WindowStart, recorder.WindowEnd) = (ws, we);
        var thread = pub.Start(rate, start, we, ws, we);
        long reconnects = 0;
        var perSecond = (int)Math.Ceiling(_o.Connections * _o.ReconnectFraction);
        var cursor = 0;
        while (Stopwatch.GetTimestamp() < we)
        {
            await Task.Delay(1000, ct).ConfigureAwait(false);
            var batch = Enumerable.Range(0, perSecond).Select(_ => cursor++ % _o.Connections).ToList();
            await Task.WhenAll(batch.Select(async idx =>
            {
                if (shard.Connections.TryRemove(idx, out var old))
                {
                    await old.DisposeAsync().ConfigureAwait(false); // abrupt: unacked notifications stay pending
                }

                try
                {
                    shard.Connections[idx] = await _target.ConnectAsync(NotifySpecFor(shard, tracker, perMille)(idx), ct).ConfigureAwait(false);
                    Interlocked.Increment(ref reconnects);
                }
                catch (Exception e)
                {
                    _r.Errors.Add("reconnect: " + e.Message);
                }
            })).ConfigureAwait(false);
        }

        thread.Join();
        await DrainAsync(shard, pub.Expected, recorder).ConfigureAwait(false);
        SetPublish(rate, [pub]);
        _r.Publish.Acks = pubConn.PublishAcks;
        _r.Publish.Errors += pubConn.PublishErrors;
        SetDelivery(ShardResult.From(recorder, shard, new ConnSnapshot(0, 0, 0, 0, 0)), pub.Expected);
        _r.Extra["reconnects"] = reconnects;
        _r.Extra["redeliveredReplayedFlag"] = recorder.ReplayedCount;
        _r.Extra["duplicatesBySequence"] = Interlocked.Read(ref duplicates);
        _r.Extra["ackingClientsFraction"] = perMille / 1000.0;
        await pubConn.CloseAsync().ConfigureAwait(false);
        await shard.CloseAllAsync().ConfigureAwait(false);
    }

    private Func<int, ClientSpec> NotifySpecFor(Shard shard, IDeliveryHandler handler, int ackPerMille) =>
        i => new ClientSpec(i, [], false, Shard.Source(_o, i), handler, AutoAck: (int)((i * 7919L) % 1000) < ackPerMille, BufferSize: _o.BufferSize);

    /// <summary>Counts duplicate notifications per user by payload sequence, then records.</summary>
    private sealed class NotifyTracker(Recorder inner, ConcurrentDictionary<int, long> lastSeq, Action duplicate) : IDeliveryHandler
    {
        public void OnDelivery(BenchConnection connection, ReadOnlySpan<byte> payload, Priority priority, ulong offset, bool replayed, int topicHash)
        {
            var seq = BenchPayload.Sequence(payload);
            var prev = lastSeq.GetValueOrDefault(connection.Index, -1);
            if (seq <= prev)
            {
                duplicate();
            }
            else
            {
                lastSeq[connection.Index] = seq;
            }

            inner.OnDelivery(connection, payload, priority, offset, replayed || seq <= prev, topicHash);
        }
    }
}
