using System.Diagnostics;
using System.Globalization;

namespace Chaos;

/// <summary>
/// Runs one scenario with fresh clients: connect and subscribe every client, publish (warm-up), inject the fault,
/// keep publishing through the recovery, stop the publishers, let every client become whole and quiet, then count.
/// </summary>
public sealed class ScenarioRunner(ChaosOptions options, ClusterEnv env, TokenFactory tokens, ClusterControl cluster, TextWriter log)
{
    private int _connected;

    public async Task<ScenarioResult> RunAsync(string scenario)
    {
        var clock = new ScenarioClock();
        var cpuStart = Environment.CpuUsage.TotalTime;
        var timeline = new Timeline();
        var faultStarts = new List<double>();
        var run = Random.Shared.Next(1, int.MaxValue);

        // Sequence capacity: the longest run we plan for, at the configured rates, with slack (bitsets: bytes per 8 messages).
        var perTopicRate = Math.Max(1, options.TopicRate / 2 / options.Topics);
        var ledger = new Ledger(run, 2, options.Topics, options.Clients, (int)Math.Max(4096, perTopicRate * 1800), (int)Math.Max(4096, options.NotifyRate * 1800));
        Volatile.Write(ref _connected, 0);
        Exception? failure = null;
        var clients = new List<ChaosClient>(options.Clients);
        ProtocolPublisher? protocol = null;
        HttpPublisher? http = null;
        using var samplerStop = new CancellationTokenSource();
        Task sampler = Task.CompletedTask;
        double publishStartMs = double.NaN, publishStopMs = double.NaN;
        try
        {
            await EnsureClusterWholeAsync().ConfigureAwait(false);

            protocol = new ProtocolPublisher(ledger);
            http = new HttpPublisher(new Uri($"http://127.0.0.1:{env.LbHttpPort}/"), tokens.ApiKey, ledger);
            var publishers = new[] { protocol.Stats, http.TopicStats, http.NotifyStats };
            sampler = timeline.SampleAsync(
                clock,
                () => (ledger.Delivered, Volatile.Read(ref _connected), publishers.Sum(p => p.Acked), publishers.Sum(p => p.Errors)),
                samplerStop.Token);

            // 1. Connect and subscribe every client through the load balancer (half WebSocket, half raw TCP).
            var ws = new Uri($"ws://127.0.0.1:{env.LbHttpPort}/ws");
            var tcp = new Uri($"tcp://127.0.0.1:{env.LbTcpPort}");
            for (var i = 0; i < options.Clients; i++)
            {
                clients.Add(new ChaosClient(i, i % options.Topics, i % 2 == 0 ? ws : tcp, ledger, clock));
            }

            timeline.Mark(clock.NowMs, "connecting");
            var heartbeat = TimeSpan.FromSeconds(options.HeartbeatSeconds);
            using (var setupCts = new CancellationTokenSource(TimeSpan.FromSeconds(60 + (options.Clients / 20.0))))
            using (var gate = new SemaphoreSlim(options.ConnectParallel))
            {
                await Task.WhenAll(clients.Select(async c =>
                {
                    await gate.WaitAsync(setupCts.Token).ConfigureAwait(false);
                    try
                    {
                        var token = tokens.Mint(c.User, ["chaos.*"], [], TimeSpan.FromHours(4));
                        await c.StartAsync(token, heartbeat, 1, d => Interlocked.Add(ref _connected, d), setupCts.Token).ConfigureAwait(false);
                    }
                    finally
                    {
                        gate.Release();
                    }
                })).ConfigureAwait(false);
            }

            timeline.Mark(clock.NowMs, "subscribed");
            var setupFailed = clients.Count(c => c.SetupError is not null);
            log.WriteLine($"[{scenario}] {clients.Count - setupFailed}/{clients.Count} clients subscribed in {clock.NowMs / 1000:F1} s; nodes {NodeSpread(clients)}");
            foreach (var c in clients.Where(c => c.SetupError is not null).Take(5))
            {
                log.WriteLine($"[{scenario}] client {c.User} setup failed: {c.SetupError}");
            }

            // 2. Publishers: the protocol one on its own node (failing over to the others), the HTTP one through the load balancer.
            var endpoints = Enumerable.Range(0, env.Nodes)
                .Select(k => ((options.PublisherNode - 1 + k) % env.Nodes) + 1)
                .Select(n => new Uri($"ws://127.0.0.1:{env.NodeHttpPort(n)}/ws"))
                .ToList();
            using (var pubCts = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                await protocol.StartAsync(endpoints, tokens.Mint("chaos-publisher", [], ["chaos.*"], TimeSpan.FromHours(4)), heartbeat, pubCts.Token).ConfigureAwait(false);
            }

            var pumps = new[]
            {
                new RatePump(options.TopicRate / 2, 2000, protocol.PublishAsync, protocol.Stats.Skip),
                new RatePump(options.TopicRate / 2, 2000, http.PublishTopicAsync, http.TopicStats.Skip),
                new RatePump(options.NotifyRate, 2000, http.NotifyAsync, http.NotifyStats.Skip),
            };
            using var publishStop = new CancellationTokenSource();
            publishStartMs = clock.NowMs;
            timeline.Mark(publishStartMs, "publishing");
            var pumping = Task.WhenAll(pumps.Select(p => p.RunAsync(publishStop.Token)));
            await Task.Delay(TimeSpan.FromSeconds(options.WarmupSeconds)).ConfigureAwait(false);

            // 3. The fault, with publishing going on.
            try
            {
                await InjectAsync(scenario, clock, timeline, faultStarts, clients).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
            {
                failure = ex;
                log.WriteLine($"[{scenario}] fault injection failed: {ex.Message}");
                await RestoreAsync(scenario).ConfigureAwait(false);
            }

            await WaitWholeAsync(clients, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromSeconds(options.TailSeconds)).ConfigureAwait(false);

            // 4. Stop publishing; in-flight publishes end within their own deadlines (HTTP retries: 45 s budget).
            await publishStop.CancelAsync().ConfigureAwait(false);
            await pumping.ConfigureAwait(false);
            publishStopMs = clock.NowMs;
            timeline.Mark(publishStopMs, "publishers stopped");
            foreach (var p in pumps)
            {
                await p.DrainAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
            }

            // 5. Settle: every client connected and resubscribed, and nothing delivered for a few seconds.
            await SettleAsync(clients, ledger, TimeSpan.FromSeconds(options.SettleTimeoutSeconds)).ConfigureAwait(false);
            timeline.Mark(clock.NowMs, "settled");
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or OperationCanceledException or Gateway.Client.GatewayException or IOException or HttpRequestException)
        {
            failure ??= ex;
            log.WriteLine($"[{scenario}] failed: {ex}");
            await RestoreAsync(scenario).ConfigureAwait(false);
        }
        finally
        {
            await samplerStop.CancelAsync().ConfigureAwait(false);
            await sampler.ConfigureAwait(false);
        }

        // 6. Count (before disposing: the SDK's counters and our bitsets are final once the clients are quiet).
        var result = ScenarioResult.Compute(scenario, options, ledger, clients, protocol, http, timeline, faultStarts, failure, clock.NowMs, publishStartMs, publishStopMs, Math.Round((Environment.CpuUsage.TotalTime - cpuStart).TotalSeconds, 1));
        log.WriteLine($"[{scenario}] {result.Line}");
        await StopAllAsync(clients, protocol).ConfigureAwait(false);
        http?.Dispose();
        return result;
    }

    private static string NodeSpread(List<ChaosClient> clients) =>
        string.Join(' ', clients.Where(c => c.FirstNode is not null).GroupBy(c => c.FirstNode!).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}={g.Count()}"));

    private async Task InjectAsync(string scenario, ScenarioClock clock, Timeline timeline, List<double> faultStarts, List<ChaosClient> clients)
    {
        var node = Math.Min(options.FaultNode, env.Nodes).ToString(CultureInfo.InvariantCulture);
        var step = TimeSpan.FromSeconds(120);
        void Fault(string label)
        {
            var ms = clock.NowMs;
            faultStarts.Add(ms);
            if (double.IsNaN(timeline.FaultStart))
            {
                timeline.FaultStart = Math.Round(ms / 1000, 2);
            }

            timeline.Mark(ms, label);
        }

        void FaultEnd(string label)
        {
            timeline.FaultEnd = Math.Round(clock.NowMs / 1000, 2);
            timeline.Mark(clock.NowMs, label);
        }

        switch (scenario)
        {
            case "kill":
                Fault($"kill -9 node {node}");
                await cluster.RunAsync($"kill {node}", step).ConfigureAwait(false);
                await WaitWholeAsync(clients, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
                timeline.Mark(clock.NowMs, "clients resubscribed");
                await Task.Delay(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                timeline.Mark(clock.NowMs, $"start node {node}");
                await cluster.RunAsync($"start {node}", step).ConfigureAwait(false);
                FaultEnd($"node {node} ready");
                break;

            case "rolling":
                for (var i = 1; i <= env.Nodes; i++)
                {
                    Fault($"stop node {i}");
                    await cluster.RunAsync($"stop {i}", step).ConfigureAwait(false);
                    timeline.Mark(clock.NowMs, $"node {i} exited");
                    await cluster.RunAsync($"start {i}", step).ConfigureAwait(false);
                    timeline.Mark(clock.NowMs, $"node {i} ready");
                    await WaitWholeAsync(clients, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
                    await Task.Delay(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                }

                FaultEnd("rolled");
                break;

            case "redis":
                Fault("redis stop");
                await cluster.RunAsync("redis-stop", step).ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                timeline.Mark(clock.NowMs, "redis start");
                await cluster.RunAsync("redis-start", step).ConfigureAwait(false);
                FaultEnd("redis up");
                break;

            case "freeze":
                Fault($"SIGSTOP node {node}");
                await cluster.RunAsync($"freeze {node}", step).ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromSeconds(20)).ConfigureAwait(false);
                await cluster.RunAsync($"thaw {node}", step).ConfigureAwait(false);
                FaultEnd($"SIGCONT node {node}");
                break;

            default:
                throw new InvalidOperationException($"Unknown scenario {scenario}.");
        }
    }

    /// <summary>Best effort after a failed injection: bring back what the scenario took away, so the next scenario has a whole cluster.</summary>
    private async Task RestoreAsync(string scenario)
    {
        var node = Math.Min(options.FaultNode, env.Nodes).ToString(CultureInfo.InvariantCulture);
        string[] commands = scenario switch
        {
            "redis" => ["redis-start"],
            "freeze" => [$"thaw {node}"],
            _ => [],
        };
        foreach (var command in commands)
        {
            try
            {
                await cluster.RunAsync(command, TimeSpan.FromSeconds(120)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is InvalidOperationException)
            {
                log.WriteLine($"[{scenario}] restore '{command}' failed: {ex.Message}");
            }
        }

        try
        {
            await EnsureClusterWholeAsync().ConfigureAwait(false);
        }
        catch (InvalidOperationException ex)
        {
            log.WriteLine($"[{scenario}] the cluster is not whole after the scenario: {ex.Message}");
        }
    }

    /// <summary>Every node answers /health/ready 200 (a node that does not answer at all is started again).</summary>
    private async Task EnsureClusterWholeAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var node = 1; node <= env.Nodes; node++)
        {
            var deadline = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
            var restarted = false;
            while (true)
            {
                int status;
                try
                {
                    using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{env.NodeHttpPort(node)}/health/ready")).ConfigureAwait(false);
                    status = (int)response.StatusCode;
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    status = 0;
                }

                if (status == 200)
                {
                    break;
                }

                if (status == 0 && !restarted)
                {
                    restarted = true;
                    log.WriteLine($"node {node} does not answer: starting it");
                    try
                    {
                        await cluster.RunAsync($"start {node}", TimeSpan.FromSeconds(120)).ConfigureAwait(false);
                    }
                    catch (InvalidOperationException ex)
                    {
                        log.WriteLine($"start {node} failed: {ex.Message}");
                    }

                    continue;
                }

                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw new InvalidOperationException($"node {node} is not ready (/health/ready {status}) before the scenario.");
                }

                await Task.Delay(500).ConfigureAwait(false);
            }
        }
    }

    private static async Task WaitWholeAsync(List<ChaosClient> clients, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline && clients.Any(c => c.SetupError is null && !c.IsWhole))
        {
            await Task.Delay(200).ConfigureAwait(false);
        }
    }

    private static async Task SettleAsync(List<ChaosClient> clients, Ledger ledger, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var quietSince = Stopwatch.GetTimestamp();
        var last = ledger.Delivered;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(250).ConfigureAwait(false);
            var now = ledger.Delivered;
            if (now != last)
            {
                last = now;
                quietSince = Stopwatch.GetTimestamp();
                continue;
            }

            if (Stopwatch.GetElapsedTime(quietSince) >= TimeSpan.FromSeconds(3) && clients.All(c => c.SetupError is not null || c.IsWhole))
            {
                return;
            }
        }
    }

    private static async Task StopAllAsync(List<ChaosClient> clients, ProtocolPublisher? protocol)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var all = Task.WhenAll(clients.Select(c => c.StopAsync()));
        await Task.WhenAny(all, Task.Delay(Timeout.Infinite, cts.Token)).ConfigureAwait(false);
        if (protocol is not null)
        {
            await protocol.StopAsync().ConfigureAwait(false);
        }
    }
}
