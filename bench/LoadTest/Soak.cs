using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Gateway.Protocol.Frames;
using LoadTest.Targets;
using ScottPlot;

namespace LoadTest;

/// <summary>
/// soak: --minutes of mixed traffic against one out-of-process gateway, sampled every --sample-seconds:
/// connection churn (--churn-rate connects+disconnects/s over the first 20 % of the clients), one open-loop
/// publisher with mixed priorities to the groups and a --personal-fraction of notifications (user:{id}) that the
/// clients ack, and --slow-clients subscribers that stop reading for half of every interval. Each sample records the
/// server's RSS, GC heap (the gateway's /metrics), threads, open file descriptors and CPU, and the interval's
/// end-to-end latency; at the end the slope of RSS and heap over the samples after --warmup-minutes (least squares,
/// KiB/min) with a verdict, written as soak.csv, summary.md and SVG charts in --out.
/// </summary>
public sealed class SoakRunner
{
    /// <summary>A slope below this share of the mean value over the post-warm-up span counts as flat.</summary>
    private const double FlatShare = 0.05;

    private readonly RunOptions _o;
    private readonly Target _target;
    private readonly int _pid;
    private readonly RunResult _r;
    private readonly CancellationToken _ct;
    private readonly SoakHandler _handler = new();
    private readonly List<Sample> _samples = [];
    private readonly ConcurrentQueue<string> _errors = new();
    private long _churnConnects;
    private long _churnFailures;
    private long _slowReconnects;

    public SoakRunner(RunOptions o, Target target, int pid, RunResult r, CancellationToken ct)
    {
        (_o, _target, _pid, _r, _ct) = (o, target, pid, r, ct);
    }

    /// <summary>One row of soak.csv.</summary>
    public sealed record Sample(
        double Minute,
        int Connected,
        long RssKiB,
        double GcHeapKiB,
        double HeapAfterGcKiB,
        int Threads,
        int Fds,
        double CpuPercent,
        double DeliveriesPerSec,
        double P50Ms,
        double P99Ms,
        double CriticalP99Ms,
        double MaxMs,
        long ChurnConnects,
        long ChurnFailures,
        int ServerClosed,
        long PublishAcks);

    /// <summary>Least-squares line through (minute, value).</summary>
    public sealed record Trend(double SlopePerMinute, double Intercept, double RSquared, double Mean, double SpanMinutes, bool Flat);

    public async Task RunAsync()
    {
        if (!_target.IsArchMesh)
        {
            throw new ArgumentException("soak needs an ArchMesh target (notifications, acks, priorities).");
        }

        var shard = new Shard(_target, _o, _handler);
        var connect = await shard.ConnectAsync(0, _o.Connections, SpecOf, _ct).ConfigureAwait(false);
        _r.Connect = new ConnectSummary { Requested = connect.Requested, Connected = connect.Connected, Failed = connect.Failed, Seconds = connect.Seconds, Errors = connect.Errors };
        Console.Error.WriteLine($"[{_o.Label}] connected {connect.Connected}/{connect.Requested} in {connect.Seconds:0.0} s; soak for {_o.Minutes} min");

        var echo = new CountingHandler();
        var pubConn = await _target.ConnectAsync(new ClientSpec(1_000_000 + 1, [.. Enumerable.Range(0, Math.Max(0, _o.Groups))], true, Shard.Source(_o, 1), echo, BufferSize: 1 << 20), _ct).ConfigureAwait(false);
        var publisher = new Publisher(pubConn, 1, _o.Window, echo)
        {
            Plan = Plan,
            Recipients = _ => 1,
            PayloadSize = _o.PayloadSize,
        };

        var interval = Math.Max(5, _o.SampleSeconds);
        var total = Stopwatch.Frequency * (long)(_o.Minutes * 60);
        var start = Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 5);
        var end = start + total;
        var first = new Recorder { WindowStart = start, WindowEnd = start + (long)(interval * Stopwatch.Frequency) };
        _handler.Current = first;
        var thread = publisher.Start(_o.Rate > 0 ? _o.Rate : 200, start, end, start, end);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(_ct);
        var churn = Task.Run(() => ChurnAsync(shard, end, stop.Token), _ct);
        var slow = Task.Run(() => SlowAsync(shard, end, interval, stop.Token), _ct);

        var cpu0 = ServerProcess.CpuSeconds(_pid);
        var t0 = start;
        long connects0 = 0, failures0 = 0, deliveries0 = 0, acks0 = 0;
        var closed0 = 0;
        for (var k = 1; ; k++)
        {
            var tk = start + (long)(k * interval * Stopwatch.Frequency);
            if (tk > end + (Stopwatch.Frequency / 2))
            {
                break;
            }

            await DelayUntil(tk).ConfigureAwait(false);
            var done = _handler.Current;
            _handler.Current = new Recorder { WindowStart = tk, WindowEnd = tk + (long)(interval * Stopwatch.Frequency) };
            var deliveries = Interlocked.Read(ref _handler.Deliveries);
            var cpu = ServerProcess.CpuSeconds(_pid);
            var seconds = (Stopwatch.GetTimestamp() - t0) / (double)Stopwatch.Frequency;
            t0 = Stopwatch.GetTimestamp();
            // Late arrivals of the interval just ended still reach its recorder through the handler's previous slot.
            _handler.Previous = done;
            await Task.Delay(500, _ct).ConfigureAwait(false);
            var all = LatencySummary.From(done.Histogram());
            var crit = LatencySummary.From(done.Histogram(Priority.Critical));
            var closed = _handler.ServerClosed;
            var acks = Interlocked.Read(ref pubConn.PublishAcks);
            var (gcHeap, heapAfterGc) = await GcHeapKiBAsync().ConfigureAwait(false);
            var s = new Sample(
                Math.Round(k * interval / 60.0, 3),
                shard.Connections.Values.Count(c => !c.Closed),
                ServerProcess.RssKiB(_pid),
                gcHeap,
                heapAfterGc,
                ServerProcess.Threads(_pid),
                Fds(_pid),
                Math.Round((cpu - cpu0) / seconds * 100, 1),
                Math.Round((deliveries - deliveries0) / seconds, 0),
                all.P50,
                all.P99,
                crit.P99,
                all.Max,
                Interlocked.Read(ref _churnConnects) - connects0,
                Interlocked.Read(ref _churnFailures) - failures0,
                closed - closed0,
                acks - acks0);
            (cpu0, deliveries0, connects0, failures0, closed0, acks0) = (cpu, deliveries, Interlocked.Read(ref _churnConnects), Interlocked.Read(ref _churnFailures), closed, acks);
            _samples.Add(s);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{_o.Label}] min {s.Minute:0.##}: {s.Connected} connected, RSS {s.RssKiB / 1024.0:0.0} MiB, heap {s.GcHeapKiB / 1024:0.0} MiB (after last GC {s.HeapAfterGcKiB / 1024:0.0}), {s.Threads} threads, {s.Fds} fds, CPU {s.CpuPercent} %, {s.DeliveriesPerSec}/s, p99 {s.P99Ms} ms (critical {s.CriticalP99Ms}), churn {s.ChurnConnects} ({s.ChurnFailures} failed), server-closed {s.ServerClosed}"));
        }

        thread.Join();
        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(churn, slow).ConfigureAwait(false);
        _r.Publish = new PublishSummary
        {
            TargetRate = _o.Rate,
            Mode = "open loop",
            Published = publisher.Published,
            WindowPublished = publisher.WindowPublished,
            AchievedRate = Math.Round(publisher.Published / (_o.Minutes * 60), 1),
            Errors = publisher.Errors + pubConn.PublishErrors,
            Acks = pubConn.PublishAcks,
        };
        if (publisher.LastError != null)
        {
            _r.Errors.Add("publisher: " + publisher.LastError);
        }

        _r.Errors.AddRange(_errors.Take(10));
        await pubConn.CloseAsync().ConfigureAwait(false);
        await shard.CloseAllAsync().ConfigureAwait(false);
        WriteOutputs();
    }

    private static async Task DelayUntil(long ticks)
    {
        var ms = (ticks - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency;
        if (ms > 0)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(ms)).ConfigureAwait(false);
        }
    }

    private ClientSpec SpecOf(int i) =>
        new(i, Shard.GroupsOf(_o, i), false, Shard.Source(_o, i), _handler, AutoAck: true, BufferSize: _o.BufferSize);

    // Mixed priorities (5 % critical, 15 % high, 40 % normal, 40 % low); --personal-fraction of them are notifications.
    private (Dest, Priority) Plan(long seq)
    {
        var priority = (seq % 20) switch
        {
            0 => Priority.Critical,
            1 or 2 or 3 => Priority.High,
            < 12 => Priority.Normal,
            _ => Priority.Low,
        };
        if (_o.PersonalFraction > 0 && (seq * 2654435761L % 1000) < _o.PersonalFraction * 1000)
        {
            return (new Dest(DestKind.User, (int)((seq * 7919) % _o.Connections)), priority);
        }

        return (_o.Groups > 0 ? new Dest(DestKind.Group, (int)(seq % _o.Groups)) : Dest.All, priority);
    }

    /// <summary>Closes and reopens the first 20 % of the clients round robin at --churn-rate per second.</summary>
    private async Task ChurnAsync(Shard shard, long end, CancellationToken ct)
    {
        var pool = Math.Max(1, _o.Connections / 5);
        var period = 1.0 / Math.Max(0.1, _o.ChurnRate);
        using var inFlight = new SemaphoreSlim(64);
        var started = Stopwatch.GetTimestamp();
        var tasks = new List<Task>();
        try
        {
            for (long k = 0; Stopwatch.GetTimestamp() < end && !ct.IsCancellationRequested; k++)
            {
                await DelayUntil(started + (long)(k * period * Stopwatch.Frequency)).ConfigureAwait(false);
                await inFlight.WaitAsync(ct).ConfigureAwait(false);
                var idx = (int)(k % pool);
                tasks.Add(Task.Run(
                    async () =>
                    {
                        try
                        {
                            await ReplaceAsync(shard, idx, ct).ConfigureAwait(false);
                            Interlocked.Increment(ref _churnConnects);
                        }
                        catch (Exception e) when (e is not OperationCanceledException)
                        {
                            Interlocked.Increment(ref _churnFailures);
                            Note("churn: " + e.Message);
                        }
                        finally
                        {
                            inFlight.Release();
                        }
                    },
                    CancellationToken.None));
                tasks.RemoveAll(t => t.IsCompleted);
            }
        }
        catch (OperationCanceledException)
        {
            // the run ended
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    /// <summary>Every interval, --slow-clients subscribers (outside the churn pool) stop reading for half of it.</summary>
    private async Task SlowAsync(Shard shard, long end, double interval, CancellationToken ct)
    {
        if (_o.SlowClients <= 0)
        {
            return;
        }

        var pool = Math.Max(1, _o.Connections / 5);
        var candidates = Math.Max(1, _o.Connections - pool);
        var cursor = 0;
        try
        {
            while (Stopwatch.GetTimestamp() < end)
            {
                var picked = Enumerable.Range(0, Math.Min(_o.SlowClients, candidates)).Select(_ => pool + (cursor++ % candidates)).ToList();
                var paused = picked.Select(i => shard.Connections.GetValueOrDefault(i)).Where(c => c is { Closed: false }).ToList();
                foreach (var c in paused)
                {
                    c!.Pause();
                }

                await Task.Delay(TimeSpan.FromSeconds(interval / 2), ct).ConfigureAwait(false);
                foreach (var c in paused)
                {
                    c!.Resume();
                }

                await Task.Delay(TimeSpan.FromSeconds(2), ct).ConfigureAwait(false);
                foreach (var c in paused.Where(c => c!.Closed))
                {
                    // Closed by the server while not reading (slow_consumer): the client comes back, like a real one.
                    try
                    {
                        await ReplaceAsync(shard, c!.Index, ct).ConfigureAwait(false);
                        Interlocked.Increment(ref _slowReconnects);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        Note("slow reconnect: " + e.Message);
                    }
                }

                await Task.Delay(TimeSpan.FromSeconds(Math.Max(0, (interval / 2) - 2)), ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // the run ended
        }
    }

    private async Task ReplaceAsync(Shard shard, int idx, CancellationToken ct)
    {
        if (shard.Connections.TryRemove(idx, out var old))
        {
            if (old.Closed)
            {
                _handler.CountServerClose(old.CloseReason);
            }

            await old.CloseAsync().ConfigureAwait(false);
        }

        shard.Connections[idx] = await _target.ConnectAsync(SpecOf(idx), ct).ConfigureAwait(false);
    }

    private void Note(string error)
    {
        if (_errors.Count < 50)
        {
            _errors.Enqueue(error);
        }
    }

    private static int Fds(int pid)
    {
        try
        {
            return Directory.GetFiles($"/proc/{pid}/fd").Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    /// <summary>
    /// The gateway's managed heap from its Prometheus endpoint: <c>dotnet_total_memory_bytes</c> (garbage included) and
    /// the heap size at the end of the last collection (<c>dotnet_gc_last_collection_heap_size_bytes</c> summed over
    /// generations, the runtime's <c>dotnet.gc.last_collection.heap.size</c>); NaN when not served.
    /// </summary>
    private async Task<(double Total, double AfterGc)> GcHeapKiBAsync()
    {
        var port = _o.HttpPort > 0 ? _o.HttpPort : _target.Endpoint.Port;
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(_ct);
            cts.CancelAfter(TimeSpan.FromSeconds(5));
            using var req = new HttpRequestMessage(HttpMethod.Get, $"http://{_target.Endpoint.Address}:{port}/metrics");
            if (!string.IsNullOrEmpty(_o.ApiKey))
            {
                req.Headers.Add("X-Api-Key", _o.ApiKey);
            }

            using var resp = await ArchMeshTarget.HttpClient.SendAsync(req, cts.Token).ConfigureAwait(false);
            if (!resp.IsSuccessStatusCode)
            {
                return (double.NaN, double.NaN);
            }

            var text = await resp.Content.ReadAsStringAsync(cts.Token).ConfigureAwait(false);
            double total = double.NaN, afterGc = double.NaN;
            foreach (var line in text.Split('\n'))
            {
                if (line.StartsWith("dotnet_total_memory_bytes ", StringComparison.Ordinal)
                    && double.TryParse(line.AsSpan("dotnet_total_memory_bytes ".Length), NumberStyles.Float, CultureInfo.InvariantCulture, out var bytes))
                {
                    total = Math.Round(bytes / 1024, 0);
                }
                else if (line.StartsWith("dotnet_gc_last_collection_heap_size_bytes{", StringComparison.Ordinal)
                    && double.TryParse(line.AsSpan(line.LastIndexOf(' ') + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var gen))
                {
                    afterGc = (double.IsNaN(afterGc) ? 0 : afterGc) + Math.Round(gen / 1024, 0);
                }
            }

            return (total, afterGc);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException)
        {
            // not served (e.g. a management listener elsewhere): heap is reported as n/a
        }

        return (double.NaN, double.NaN);
    }

    /// <summary>Least squares over the samples after the warm-up; flat when the fitted change over the span is within 5 % of the mean.</summary>
    /// <param name="points">(minute, value) samples; NaN values are skipped.</param>
    /// <param name="minAbsoluteChange">A change over the span up to this much is flat whatever the mean (counts: threads, fds).</param>
    public static Trend Fit(IReadOnlyList<(double X, double Y)> points, double minAbsoluteChange = 0)
    {
        var p = points.Where(q => !double.IsNaN(q.Y)).ToList();
        if (p.Count < 2)
        {
            return new Trend(double.NaN, double.NaN, double.NaN, p.Count == 1 ? p[0].Y : double.NaN, 0, false);
        }

        var mx = p.Average(q => q.X);
        var my = p.Average(q => q.Y);
        var sxx = p.Sum(q => (q.X - mx) * (q.X - mx));
        var sxy = p.Sum(q => (q.X - mx) * (q.Y - my));
        var syy = p.Sum(q => (q.Y - my) * (q.Y - my));
        var slope = sxx > 0 ? sxy / sxx : 0;
        var r2 = sxx > 0 && syy > 0 ? sxy * sxy / (sxx * syy) : 1;
        var span = p.Max(q => q.X) - p.Min(q => q.X);
        return new Trend(slope, my - (slope * mx), r2, my, span, Math.Abs(slope * span) <= Math.Max(minAbsoluteChange, FlatShare * Math.Abs(my)));
    }

    private void WriteOutputs()
    {
        Directory.CreateDirectory(_o.Out);
        var inv = CultureInfo.InvariantCulture;
        static string N(double v, string f = "0.##") => double.IsNaN(v) ? "" : v.ToString(f, CultureInfo.InvariantCulture);
        var csv = new StringBuilder("minute,connected,rss_kib,gc_heap_kib,heap_after_gc_kib,threads,fds,cpu_pct,deliveries_per_s,p50_ms,p99_ms,critical_p99_ms,max_ms,churn_connects,churn_failures,server_closed,publish_acks\n");
        foreach (var s in _samples)
        {
            csv.Append(inv, $"{N(s.Minute, "0.###")},{s.Connected},{s.RssKiB},{N(s.GcHeapKiB, "0")},{N(s.HeapAfterGcKiB, "0")},{s.Threads},{s.Fds},{N(s.CpuPercent)},{N(s.DeliveriesPerSec, "0")},{N(s.P50Ms, "0.###")},{N(s.P99Ms, "0.###")},{N(s.CriticalP99Ms, "0.###")},{N(s.MaxMs, "0.###")},{s.ChurnConnects},{s.ChurnFailures},{s.ServerClosed},{s.PublishAcks}\n");
        }

        File.WriteAllText(Path.Combine(_o.Out, "soak.csv"), csv.ToString());

        var steady = _samples.Where(s => s.Minute > _o.WarmupMinutes + 1e-9).ToList();
        var rss = Fit([.. steady.Select(s => (s.Minute, (double)s.RssKiB))]);
        var heap = Fit([.. steady.Select(s => (s.Minute, s.GcHeapKiB))]);
        var live = Fit([.. steady.Select(s => (s.Minute, s.HeapAfterGcKiB))]);
        var threads = Fit([.. steady.Select(s => (s.Minute, (double)s.Threads))], minAbsoluteChange: 2);
        var fds = Fit([.. steady.Select(s => (s.Minute, (double)s.Fds))], minAbsoluteChange: 2);
        // A leak grows: memory that is flat or falls after the warm-up passes.
        static bool NoGrowth(Trend t) => t.Flat || t.SlopePerMinute < 0;
        var verdict = steady.Count < 2 ? "too short to tell" : NoGrowth(rss) && (double.IsNaN(live.Mean) ? NoGrowth(heap) || double.IsNaN(heap.Mean) : NoGrowth(live)) ? "flat" : "NOT flat (growing)";
        _r.Extra["soakSamples"] = _samples.Count;
        _r.Extra["rssSlopeKiBPerMin"] = Math.Round(rss.SlopePerMinute, 1);
        _r.Extra["gcHeapSlopeKiBPerMin"] = double.IsNaN(heap.SlopePerMinute) ? "n/a" : Math.Round(heap.SlopePerMinute, 1);
        _r.Extra["heapAfterGcSlopeKiBPerMin"] = double.IsNaN(live.SlopePerMinute) ? "n/a" : Math.Round(live.SlopePerMinute, 1);
        _r.Extra["verdict"] = verdict;
        _r.Extra["churnConnects"] = Interlocked.Read(ref _churnConnects);
        _r.Extra["churnFailures"] = Interlocked.Read(ref _churnFailures);
        _r.Extra["slowReconnects"] = Interlocked.Read(ref _slowReconnects);
        _r.Extra["serverCloseReasons"] = _handler.CloseReasons.ToDictionary(kv => kv.Key, kv => kv.Value);

        string TrendText(string what, Trend t, string unit) => double.IsNaN(t.SlopePerMinute)
            ? $"| {what} | n/a | | | |"
            : $"| {what} | {N(t.SlopePerMinute, "0.0")} {unit}/min | {N(t.RSquared, "0.00")} | {N(t.SlopePerMinute * t.SpanMinutes, "0.0")} {unit} over {N(t.SpanMinutes, "0.#")} min ({N(t.Mean != 0 ? t.SlopePerMinute * t.SpanMinutes / t.Mean * 100 : double.NaN, "0.0")} % of the mean {N(t.Mean, "0")}) | {(t.Flat ? "flat" : t.SlopePerMinute > 0 ? "**growing**" : "falling")} |";
        var md = new StringBuilder();
        md.AppendLine(inv, $"# Soak: {_o.Minutes} min against {_o.Target}").AppendLine();
        md.AppendLine(inv, $"{_o.Connections} subscribers in {_o.Groups} groups (each acks its notifications), churn {N(_o.ChurnRate)} connects+disconnects/s over the first {Math.Max(1, _o.Connections / 5)} clients, one open-loop publisher at {N(_o.Rate > 0 ? _o.Rate : 200)} publishes/s (5 % critical, 15 % high, 40 % normal, 40 % low; {N(_o.PersonalFraction * 100)} % notifications to user:{{id}}), {_o.SlowClients} clients stop reading for half of every interval; {_o.PayloadSize} B payloads; one sample every {N(Math.Max(5, _o.SampleSeconds))} s; warm-up {N(_o.WarmupMinutes)} min excluded from the slopes. GC heap = the gateway's `dotnet_total_memory_bytes` (/metrics, garbage included); heap after GC = `dotnet_gc_last_collection_heap_size_bytes` summed over generations (the heap as the last collection left it); fds = entries of /proc/<pid>/fd.").AppendLine();
        md.AppendLine(inv, $"**Verdict: {verdict}** (RSS and heap after GC — GC heap when that is not served: a line through the post-warm-up samples that changes by at most {FlatShare * 100:0} % of the mean over the span counts as flat; threads and fds: at most 5 % or 2, whichever is more). GC heap is `GC.GetTotalMemory(false)`, garbage not yet collected included, so it saw-tooths between collections: judge it over the 30-minute run, not a short one.").AppendLine();
        md.AppendLine("| series (after warm-up) | slope | R² | change over the span | verdict |").AppendLine("|---|---:|---:|---|---|");
        md.AppendLine(TrendText("RSS", rss, "KiB"));
        md.AppendLine(TrendText("GC heap (garbage included)", heap, "KiB"));
        md.AppendLine(TrendText("heap after last GC", live, "KiB"));
        md.AppendLine(TrendText("threads", threads, ""));
        md.AppendLine(TrendText("open fds", fds, "")).AppendLine();
        md.AppendLine(inv, $"Churn: {Interlocked.Read(ref _churnConnects)} reconnects ({Interlocked.Read(ref _churnFailures)} failed); slow clients closed by the server and reconnected: {Interlocked.Read(ref _slowReconnects)}; server close reasons seen: {(_handler.CloseReasons.IsEmpty ? "none" : string.Join(", ", _handler.CloseReasons.Select(kv => $"{kv.Key} × {kv.Value}")))}; publishes {_r.Publish.Published}, acks {_r.Publish.Acks}, publish errors {_r.Publish.Errors}.").AppendLine();
        md.AppendLine("| minute | connected | RSS MiB | GC heap MiB | after GC MiB | threads | fds | CPU % | deliveries/s | p50 ms | p99 ms | critical p99 ms | max ms | churn | failed | server-closed |");
        md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var s in _samples)
        {
            md.AppendLine(inv, $"| {N(s.Minute)} | {s.Connected} | {N(s.RssKiB / 1024.0, "0.0")} | {N(s.GcHeapKiB / 1024, "0.0")} | {N(s.HeapAfterGcKiB / 1024, "0.0")} | {s.Threads} | {s.Fds} | {N(s.CpuPercent, "0")} | {N(s.DeliveriesPerSec, "#,0")} | {N(s.P50Ms)} | {N(s.P99Ms)} | {N(s.CriticalP99Ms)} | {N(s.MaxMs)} | {s.ChurnConnects} | {s.ChurnFailures} | {s.ServerClosed} |");
        }

        if (_r.Errors.Count > 0)
        {
            md.AppendLine().AppendLine("Errors (first 10): " + string.Join("; ", _r.Errors.Take(10)));
        }

        md.AppendLine().AppendLine("Charts: `soak.svg` (RSS and GC heap, p99), `soak-resources.svg` (threads, open fds).");
        File.WriteAllText(Path.Combine(_o.Out, "summary.md"), md.ToString());
        DrawCharts(rss, heap, live);
    }

    private void DrawCharts(Trend rss, Trend heap, Trend live)
    {
        if (_samples.Count == 0)
        {
            return;
        }

        var xs = _samples.Select(s => s.Minute).ToArray();
        var mem = new Plot();
        var r = mem.Add.Scatter(xs, _samples.Select(s => s.RssKiB / 1024.0).ToArray());
        r.LegendText = $"RSS MiB (slope {rss.SlopePerMinute:0.0} KiB/min)";
        if (_samples.Any(s => !double.IsNaN(s.GcHeapKiB)))
        {
            var h = mem.Add.Scatter(xs, _samples.Select(s => s.GcHeapKiB / 1024).ToArray());
            h.LegendText = $"GC heap MiB (slope {heap.SlopePerMinute:0.0} KiB/min)";
        }

        if (_samples.Any(s => !double.IsNaN(s.HeapAfterGcKiB)))
        {
            var l = mem.Add.Scatter(xs, _samples.Select(s => s.HeapAfterGcKiB / 1024).ToArray());
            l.LegendText = $"heap after last GC MiB (slope {live.SlopePerMinute:0.0} KiB/min)";
        }

        var p = mem.Add.Scatter(xs, _samples.Select(s => double.IsNaN(s.P99Ms) ? 0 : s.P99Ms).ToArray());
        p.LegendText = "p99 ms (right axis)";
        p.Axes.YAxis = mem.Axes.Right;
        p.LinePattern = LinePattern.Dashed;
        var warm = mem.Add.VerticalLine(_o.WarmupMinutes);
        warm.LineColor = Colors.Gray;
        warm.LinePattern = LinePattern.Dotted;
        warm.Text = "end of warm-up";
        mem.Title($"Soak against {_o.Target}: {_o.Connections} clients, churn {_o.ChurnRate}/s, {_o.Minutes} min");
        mem.XLabel("minutes");
        mem.YLabel("MiB");
        mem.Axes.Right.Label.Text = "p99 ms";
        mem.Axes.SetLimitsY(0, Math.Max(1, _samples.Max(s => s.RssKiB) / 1024.0 * 1.15));
        mem.ShowLegend(Alignment.LowerRight);
        mem.SaveSvg(Path.Combine(_o.Out, "soak.svg"), 1000, 520);

        var res = new Plot();
        var t = res.Add.Scatter(xs, _samples.Select(s => (double)s.Threads).ToArray());
        t.LegendText = "threads";
        var f = res.Add.Scatter(xs, _samples.Select(s => (double)s.Fds).ToArray());
        f.LegendText = "open fds (right axis)";
        f.Axes.YAxis = res.Axes.Right;
        res.Title($"Soak against {_o.Target}: threads and open file descriptors");
        res.XLabel("minutes");
        res.YLabel("threads");
        res.Axes.Right.Label.Text = "fds";
        res.ShowLegend(Alignment.LowerRight);
        res.SaveSvg(Path.Combine(_o.Out, "soak-resources.svg"), 1000, 420);
    }

    /// <summary>Counts deliveries and forwards them to the current interval's recorder (and the previous one, for late arrivals).</summary>
    private sealed class SoakHandler : IDeliveryHandler
    {
        public long Deliveries;
        public volatile Recorder? Current;
        public volatile Recorder? Previous;
        private int _serverClosed;

        public ConcurrentDictionary<string, int> CloseReasons { get; } = new();

        public int ServerClosed => Volatile.Read(ref _serverClosed);

        public void CountServerClose(string? reason)
        {
            Interlocked.Increment(ref _serverClosed);
            CloseReasons.AddOrUpdate(reason ?? "?", 1, (_, n) => n + 1);
        }

        public void OnDelivery(BenchConnection connection, ReadOnlySpan<byte> payload, Priority priority, ulong offset, bool replayed, int topicHash)
        {
            Interlocked.Increment(ref Deliveries);
            Current?.OnDelivery(connection, payload, priority, offset, replayed, topicHash);
            Previous?.OnDelivery(connection, payload, priority, offset, replayed, topicHash);
        }
    }
}
