using System.Globalization;
using System.Text;

namespace Chaos;

/// <summary>The figures of one scenario: the summary line (<c>chaos &lt;scenario&gt;: key=value ...</c>) and the details for the JSON and summary.md.</summary>
public sealed class ScenarioResult
{
    public string Scenario { get; init; } = string.Empty;

    /// <summary>Ordered figures of the summary line.</summary>
    public List<KeyValuePair<string, string>> Figures { get; } = [];

    public Timeline Timeline { get; init; } = new();

    public List<PublisherReport> Publishers { get; init; } = [];

    /// <summary>Clients per node at the start.</summary>
    public Dictionary<string, int> Nodes { get; init; } = [];

    /// <summary>Up to 20 lost (client, message) pairs with the client's outages, to reproduce a loss.</summary>
    public List<string> LostSamples { get; init; } = [];

    public string? Error { get; init; }

    public long Lost { get; init; }

    public bool Failed => Error is not null;

    public string Line => $"chaos {Scenario}: " + string.Join(' ', Figures.Select(f => $"{f.Key}={f.Value}"));

    public static ScenarioResult Compute(
        string scenario,
        ChaosOptions options,
        Ledger ledger,
        List<ChaosClient> clients,
        ProtocolPublisher? protocol,
        HttpPublisher? http,
        Timeline timeline,
        List<double> faultStarts,
        Exception? failure,
        double durationMs,
        double publishStartMs,
        double publishStopMs,
        double cpuSeconds)
    {
        var live = clients.Where(c => c.SetupError is null).ToList();

        // Lost = acknowledged messages of the client's topic it never received (every live client subscribed before
        // the first publish), per (client, message) pair; plus distinct messages lost by at least one client.
        long lostPairs = 0, lostSilent = 0, expected = 0;
        var lostMessages = new Bitset[ledger.Publishers, ledger.Topics];
        var samples = new List<string>();
        foreach (var c in live)
        {
            for (var p = 0; p < ledger.Publishers; p++)
            {
                var acked = ledger.Acked(p, c.Topic);
                expected += acked.Count();
                var missing = acked.CountMissingFrom(c.Received(p));
                if (missing == 0)
                {
                    continue;
                }

                lostPairs += missing;
                if (c.RecoveryFailedMarkers + c.RecoveryIncompleteMarkers == 0)
                {
                    // No marker told this application that messages were missing: a silent loss.
                    lostSilent += missing;
                }

                acked.AddMissingTo(c.Received(p), lostMessages[p, c.Topic] ??= new Bitset(64));
                if (samples.Count < 20)
                {
                    var firstMissing = new Bitset(64);
                    acked.AddMissingTo(c.Received(p), firstMissing);
                    samples.Add($"client {c.User} ({(c.Endpoint.Scheme == "tcp" ? "tcp" : "ws")}, first node {c.FirstNode}) topic chaos.{c.Topic} publisher {p}: {missing} missing, seqs {string.Join(',', firstMissing.FirstSet(8))}; outages (s) {string.Join(", ", c.Episodes.Select(e => $"{e.DisconnectedMs / 1000:F1}->{e.ConnectedMs / 1000:F1}/{e.ResubscribedMs / 1000:F1}"))}");
                }
            }
        }

        long lostDistinct = 0;
        foreach (var b in lostMessages)
        {
            lostDistinct += b?.Count() ?? 0;
        }

        // Notifications: each acked one must have reached its user's client (unless that client never got set up).
        var setupFailed = new HashSet<int>(clients.Where(c => c.SetupError is not null).Select(c => c.Index));
        var lostNotify = 0L;
        var notifyAcked = 0L;
        var missingNotify = new Bitset(64);
        ledger.NotifyAcked.AddMissingTo(ledger.NotifyReceived, missingNotify);
        foreach (var seq in missingNotify.FirstSet(int.MaxValue))
        {
            if (!setupFailed.Contains((int)(seq % ledger.Clients)))
            {
                lostNotify++;
                if (samples.Count < 20)
                {
                    var c = clients[(int)(seq % ledger.Clients)];
                    samples.Add($"notification seq {seq} to {c.User} ({(c.Endpoint.Scheme == "tcp" ? "tcp" : "ws")}, first node {c.FirstNode}) never delivered; outages (s) {string.Join(", ", c.Episodes.Select(e => $"{e.DisconnectedMs / 1000:F1}->{e.ConnectedMs / 1000:F1}/{e.ResubscribedMs / 1000:F1}"))}");
                }
            }
        }

        foreach (var seq in ledger.NotifyAcked.FirstSet(int.MaxValue))
        {
            if (!setupFailed.Contains((int)(seq % ledger.Clients)))
            {
                notifyAcked++;
            }
        }

        // Reconnects: every outage of a client; the fault it belongs to is the latest one started before it.
        // Outages before the first fault (setup, warm-up) are not the fault's: reported apart as drops_before_fault.
        var firstFault = faultStarts.Count > 0 ? faultStarts[0] : double.PositiveInfinity;
        var dropsBeforeFault = live.Sum(c => c.Episodes.Count(e => e.DisconnectedMs < firstFault));
        var episodes = live.SelectMany(c => c.Episodes).Where(e => e.DisconnectedMs >= firstFault).ToList();
        var closed = episodes.Where(e => e.Closed).ToList();
        var fromDisconnect = closed.Select(e => Math.Max(e.ResubscribedMs, e.ConnectedMs) - e.DisconnectedMs).ToList();
        var fromFault = closed.Select(e => Math.Max(e.ResubscribedMs, e.ConnectedMs) - FaultBefore(faultStarts, e.DisconnectedMs)).Where(v => !double.IsNaN(v)).ToList();
        var spread = double.NaN;
        foreach (var group in closed.GroupBy(e => FaultBefore(faultStarts, e.DisconnectedMs)).Where(g => !double.IsNaN(g.Key)))
        {
            // Arrival times of the first successful reconnect of the clients this fault dropped: the SDK's jitter.
            var arrivals = group.Select(e => e.ConnectedMs).ToList();
            if (arrivals.Count >= 2)
            {
                var s = Percentile(arrivals, 99) - Percentile(arrivals, 1);
                spread = double.IsNaN(spread) ? s : Math.Max(spread, s);
            }
        }

        var affected = live.Count(c => c.Episodes.Any(e => e.DisconnectedMs >= firstFault));
        var pubs = new List<PublisherStats>();
        if (protocol is not null)
        {
            pubs.Add(protocol.Stats);
        }

        if (http is not null)
        {
            pubs.Add(http.TopicStats);
            pubs.Add(http.NotifyStats);
        }

        var topicPubs = pubs.Where(p => p.Name != "http-notify").ToList();
        var dupSuppressed = live.Sum(c => (c.Subscription?.DuplicatesDropped ?? 0) + (c.Client is { } g && TryNotifications(g) is { } n ? n.DuplicatesDropped : 0));
        var notWhole = live.Count(c => !c.IsWhole);
        var lost = lostPairs + lostNotify;
        var result = new ScenarioResult
        {
            Scenario = scenario,
            Timeline = timeline,
            Publishers = [.. pubs.Select(PublisherReport.From)],
            Nodes = live.Where(c => c.FirstNode is not null).GroupBy(c => c.FirstNode!).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()),
            LostSamples = samples,
            Error = failure?.Message ?? (live.Count < clients.Count ? $"{clients.Count - live.Count} clients could not be set up: {clients.First(c => c.SetupError is not null).SetupError}" : null),
            Lost = lost,
        };

        void Add(string key, object value) => result.Figures.Add(new(key, Format(value)));
        Add("clients", clients.Count);
        Add("acked", topicPubs.Sum(p => p.Acked));
        Add("delivered", live.Sum(c => c.Delivered));
        Add("expected", expected);
        Add("recovered", live.Sum(c => c.Recovered));
        Add("notify_acked", notifyAcked);
        Add("notify_delivered", live.Sum(c => c.NotifyDelivered));
        Add("notify_recovered", live.Sum(c => c.NotifyRecovered));
        Add("dup_suppressed", dupSuppressed);
        Add("dup_app", live.Sum(c => c.DuplicatesToApp));
        Add("dup_publish", live.Sum(c => c.DuplicatePublishes));
        Add("gaps", live.Sum(c => c.Gaps + c.AfterGap + c.EpochChanges));
        Add("recovery_failed", live.Sum(c => c.RecoveryFailedMarkers));
        Add("recovery_incomplete", live.Sum(c => c.RecoveryIncompleteMarkers));
        Add("lost", lost);
        Add("lost_msgs", lostDistinct);
        Add("lost_notify", lostNotify);
        Add("lost_silent", lostSilent + lostNotify);
        Add("affected", affected);
        Add("resub_p50_ms", Percentile(fromDisconnect, 50));
        Add("resub_p99_ms", Percentile(fromDisconnect, 99));
        Add("resub_max_ms", fromDisconnect.Count > 0 ? fromDisconnect.Max() : double.NaN);
        Add("fault_to_resub_p50_ms", Percentile(fromFault, 50));
        Add("fault_to_resub_p99_ms", Percentile(fromFault, 99));
        Add("fault_to_resub_max_ms", fromFault.Count > 0 ? fromFault.Max() : double.NaN);
        Add("reconnect_spread_ms", spread);
        Add("not_whole", notWhole);
        Add("drops_before_fault", dropsBeforeFault);
        Add("pub_retryable", pubs.Sum(p => p.Retryable));
        Add("pub_fatal", pubs.Sum(p => p.Fatal));
        Add("pub_unknown", pubs.Sum(p => p.Unknown));
        Add("pub_unacked", pubs.Sum(p => p.GaveUp));
        Add("pub_skipped", pubs.Sum(p => p.Skipped));
        Add("stale", live.Sum(c => c.Stale));
        Add("misrouted", live.Sum(c => c.Misrouted));
        Add("setup_failed", clients.Count - live.Count);
        Add("setup_retries", clients.Sum(c => c.SetupRetries));
        Add("publish_s", double.IsNaN(publishStopMs) ? double.NaN : Math.Round((publishStopMs - publishStartMs) / 1000, 1));
        Add("duration_s", Math.Round(durationMs / 1000, 1));
        Add("rss_mb", Environment.WorkingSet / (1024 * 1024));
        Add("cpu_s", cpuSeconds);
        Add("pool_queue_max", timeline.MaxPoolQueue);
        if (result.Error is not null)
        {
            Add("failed", 1);
        }

        return result;
    }

    /// <summary>Multi-line Markdown details of this scenario (publishers, nodes, lost samples).</summary>
    public string Details()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"### {Scenario}\n\n```\n{Line}\n```\n\n");
        if (Error is not null)
        {
            sb.Append(CultureInfo.InvariantCulture, $"**Failed:** {Error}\n\n");
        }

        sb.Append("Clients per node at the start: ").Append(string.Join(", ", Nodes.Select(n => $"{n.Key} {n.Value}"))).Append("\n\n");
        sb.Append("| publisher | messages | acked | retryable errors | fatal errors | unknown outcome | unacked | skipped | errors by name |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        foreach (var p in Publishers)
        {
            sb.Append(CultureInfo.InvariantCulture, $"| {p.Name} | {p.Messages} | {p.Acked} | {p.Retryable} | {p.Fatal} | {p.Unknown} | {p.Unacked} | {p.Skipped} | {string.Join(", ", p.Errors.Select(e => $"{e.Key} {e.Value}"))} |\n");
        }

        sb.Append("\nTimeline markers: ").Append(string.Join("; ", Timeline.Markers.Select(m => $"{m.T:F1} s {m.Label}"))).Append("\n\n");
        if (LostSamples.Count > 0)
        {
            sb.Append("Lost (first ").Append(LostSamples.Count).Append("):\n\n");
            foreach (var s in LostSamples)
            {
                sb.Append("- ").Append(s).Append('\n');
            }

            sb.Append('\n');
        }

        sb.Append(CultureInfo.InvariantCulture, $"![{Scenario}](chaos-{Scenario}.svg)\n\n");
        return sb.ToString();
    }

    public static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.OrderBy(v => v).ToList();
        var rank = (int)Math.Ceiling(p / 100 * sorted.Count) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
    }

    private static Gateway.Client.GatewaySubscription? TryNotifications(Gateway.Client.GatewayClient client)
    {
        try
        {
            return client.Notifications;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static double FaultBefore(List<double> faultStarts, double ms)
    {
        var best = double.NaN;
        foreach (var f in faultStarts)
        {
            if (f <= ms + 1)
            {
                best = f;
            }
        }

        return best;
    }

    private static string Format(object value) => value switch
    {
        double d when double.IsNaN(d) => "-",
        double d => Math.Round(d).ToString(CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };
}
