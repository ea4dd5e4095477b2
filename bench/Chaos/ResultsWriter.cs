using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Chaos;

/// <summary>Writes summary.md (the lines, the settings, details), chaos.json (compact) and one SVG chart per scenario.</summary>
public static class ResultsWriter
{
    public static void Write(string outDir, ChaosOptions options, ClusterEnv env, IReadOnlyList<ScenarioResult> results, DateTimeOffset started)
    {
        Directory.CreateDirectory(outDir);
        var md = new StringBuilder();
        md.Append("# Chaos results\n\n");
        md.Append(CultureInfo.InvariantCulture, $"Run {started:yyyy-MM-dd HH:mm} UTC on {Environment.ProcessorCount} cores; `bench/chaos.sh` against `deploy/local/cluster.sh` ({env.Nodes} nodes, Redis engine, HAProxy). How to read the figures: docs/operations.md, \"Reading the chaos results\".\n\n");
        md.Append("```\n");
        foreach (var r in results)
        {
            md.Append(r.Line).Append('\n');
        }

        md.Append("```\n\n## Settings\n\n");
        md.Append(CultureInfo.InvariantCulture, $"- clients: {options.Clients} (half WebSocket `ws://127.0.0.1:{env.LbHttpPort}/ws`, half raw TCP `tcp://127.0.0.1:{env.LbTcpPort}`, all through HAProxy), each user `c{{i}}` subscribed to `chaos.{{i % {options.Topics}}}` and its notifications (acked on receipt)\n");
        md.Append(CultureInfo.InvariantCulture, $"- topic messages: {options.TopicRate}/s in total, half by the HTTP API through HAProxy (idempotency key, retried for up to 45 s), half by a protocol publisher (GatewayClient, publish with ack, connected to node {options.PublisherNode} first, not retried)\n");
        md.Append(CultureInfo.InvariantCulture, $"- notifications: {options.NotifyRate}/s by the HTTP API (`/api/v1/notify`, idempotency key), round-robin over the users\n");
        md.Append(CultureInfo.InvariantCulture, $"- per topic {options.TopicRate / options.Topics:0.#} msgs/s: the default history (1,000 messages / 1 MiB / 5 min per topic) covers {1000 / Math.Max(0.001, options.TopicRate / options.Topics):F0} s of outage\n");
        md.Append(CultureInfo.InvariantCulture, $"- warm-up {options.WarmupSeconds} s, tail {options.TailSeconds} s after the cluster is whole; client heartbeat {(options.HeartbeatSeconds > 0 ? $"{options.HeartbeatSeconds} s (dead after 3 silent intervals)" : "the server's")}; fault node {options.FaultNode}\n\n");
        md.Append("## Scenarios\n\n");
        foreach (var r in results)
        {
            md.Append(r.Details());
        }

        File.WriteAllText(Path.Combine(outDir, "summary.md"), md.ToString());

        foreach (var r in results)
        {
            File.WriteAllText(Path.Combine(outDir, $"chaos-{r.Scenario}.svg"), ChartSvg.Draw($"chaos {r.Scenario}: delivered msgs/s and connected clients ({options.Clients} clients)", r.Timeline));
        }

        using var stream = File.Create(Path.Combine(outDir, "chaos.json"));
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false });
        w.WriteStartObject();
        w.WriteString("started", started);
        w.WriteStartObject("settings");
        w.WriteNumber("clients", options.Clients);
        w.WriteNumber("topics", options.Topics);
        w.WriteNumber("topicRate", options.TopicRate);
        w.WriteNumber("notifyRate", options.NotifyRate);
        w.WriteNumber("warmupSeconds", options.WarmupSeconds);
        w.WriteNumber("tailSeconds", options.TailSeconds);
        w.WriteNumber("heartbeatSeconds", options.HeartbeatSeconds);
        w.WriteNumber("faultNode", options.FaultNode);
        w.WriteNumber("publisherNode", options.PublisherNode);
        w.WriteNumber("nodes", env.Nodes);
        w.WriteNumber("cores", Environment.ProcessorCount);
        w.WriteEndObject();
        w.WriteStartArray("scenarios");
        foreach (var r in results)
        {
            w.WriteStartObject();
            w.WriteString("scenario", r.Scenario);
            w.WriteString("line", r.Line);
            if (r.Error is not null)
            {
                w.WriteString("error", r.Error);
            }

            w.WriteStartObject("figures");
            foreach (var f in r.Figures)
            {
                if (double.TryParse(f.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
                {
                    w.WriteNumber(f.Key, d);
                }
                else
                {
                    w.WriteNull(f.Key);
                }
            }

            w.WriteEndObject();
            w.WriteStartObject("nodes");
            foreach (var n in r.Nodes)
            {
                w.WriteNumber(n.Key, n.Value);
            }

            w.WriteEndObject();
            w.WriteStartArray("publishers");
            foreach (var p in r.Publishers)
            {
                w.WriteStartObject();
                w.WriteString("name", p.Name);
                w.WriteNumber("messages", p.Messages);
                w.WriteNumber("acked", p.Acked);
                w.WriteNumber("retryable", p.Retryable);
                w.WriteNumber("fatal", p.Fatal);
                w.WriteNumber("unknown", p.Unknown);
                w.WriteNumber("unacked", p.Unacked);
                w.WriteNumber("skipped", p.Skipped);
                w.WriteStartObject("errors");
                foreach (var e in p.Errors)
                {
                    w.WriteNumber(e.Key, e.Value);
                }

                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndArray();

            // Timeline as parallel arrays (compact): t (s), delivered msgs/s, connected clients, acked publishes/s, publish errors/s.
            var t = r.Timeline;
            w.WriteStartObject("timeline");
            WriteArray(w, "t", t.Points.Select(p => p.T));
            WriteArray(w, "delivered", t.Points.Select(p => p.Delivered));
            WriteArray(w, "connected", t.Points.Select(p => (double)p.Connected));
            WriteArray(w, "acked", t.Points.Select(p => p.Acked));
            WriteArray(w, "errors", t.Points.Select(p => p.Errors));
            if (!double.IsNaN(t.FaultStart))
            {
                w.WriteNumber("faultStart", t.FaultStart);
            }

            if (!double.IsNaN(t.FaultEnd))
            {
                w.WriteNumber("faultEnd", t.FaultEnd);
            }

            w.WriteStartArray("markers");
            foreach (var m in t.Markers)
            {
                w.WriteStartObject();
                w.WriteNumber("t", m.T);
                w.WriteString("label", m.Label);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteStartArray("lostSamples");
            foreach (var s in r.LostSamples)
            {
                w.WriteStringValue(s);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteArray(Utf8JsonWriter w, string name, IEnumerable<double> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteNumberValue(v);
        }

        w.WriteEndArray();
    }
}
