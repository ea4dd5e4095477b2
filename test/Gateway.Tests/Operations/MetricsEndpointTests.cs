using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Operations;

/// <summary>/metrics over HTTP: the §6 figures, runtime and Kestrel meters, Prometheus naming.</summary>
public sealed partial class MetricsEndpointTests
{
    [Fact]
    public async Task Metrics_expose_gateway_dispatch_runtime_and_kestrel_series_with_prometheus_names()
    {
        await using var server = await GatewayServer.StartAsync();
        using var http = server.CreateHttpClient();

        // Real traffic: a connected client that receives notifications published over the HTTP API,
        // and one failed API-key check.
        var (client, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("alice"));
        await using (client)
        {
            for (var i = 0; i < 5; i++)
            {
                using var published = await http.PostAsJsonAsync("/api/v1/notify", new { user = "alice", payload = new { n = i }, priority = "high" });
                Assert.Equal(HttpStatusCode.OK, published.StatusCode);
            }

            for (var i = 0; i < 5; i++)
            {
                await client.ReceiveUntilAsync(f => f.Kind == Gateway.Protocol.Frames.FrameKind.Message);
            }

            using var anonymous = server.CreateHttpClient(withApiKey: false);
            anonymous.DefaultRequestHeaders.Add("X-Api-Key", "wrong-key");
            using var refused = await anonymous.PostAsJsonAsync("/api/v1/broadcast", new { payload = 1 });
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

            var text = await OpsTestEnvironment.EventuallyAsync(
                async () =>
                {
                    var body = await http.GetStringAsync("/metrics");
                    return body.Contains("gateway_delivery_latency_seconds_bucket", StringComparison.Ordinal) ? body : null;
                },
                TimeSpan.FromSeconds(30),
                "the end-to-end latency histogram in /metrics");

            // §6: connections, frames/bytes by kind, messages by priority, rings, latency, slow consumers, auth, engine.
            AssertSample(text, "gateway_connections_current", v => v >= 1);
            AssertSample(text, "gateway_connections_opened_total{transport=", v => v >= 1);
            AssertSample(text, "gateway_frames_in_total{kind=\"connect\"}", v => v >= 1);
            AssertSample(text, "gateway_frames_out_total{kind=", v => v >= 1);
            AssertSample(text, "gateway_bytes_out_total{kind=", v => v > 0);
            AssertSample(text, "gateway_dispatch_messages_enqueued_total{priority=\"high\"}", v => v >= 5);
            AssertSample(text, "gateway_dispatch_messages_dispatched_total{priority=\"high\"}", v => v >= 5);
            AssertSample(text, "gateway_dispatch_messages_shed_total{priority=\"low\"}", v => v >= 0);
            AssertSample(text, "gateway_dispatch_ring_depth{priority=\"critical\"}", v => v >= 0);
            AssertSample(text, "gateway_dispatch_ring_capacity", v => v > 0);
            AssertSample(text, "gateway_dispatch_slow_consumer_closes_total", v => v >= 0);
            AssertSample(text, "gateway_auth_failures_total{reason=", v => v >= 1);
            AssertSample(text, "gateway_engine_available{engine=", v => v == 1);
            AssertSample(text, "gateway_ready", v => v == 1);
            AssertSample(text, "gateway_draining", v => v == 0);
            AssertSample(text, "gateway_dispatch_latency_seconds_count", v => v >= 5);
            AssertSample(text, "gateway_delivery_latency_seconds_count", v => v >= 1);

            // Latency buckets in seconds down to sub-millisecond.
            Assert.Contains("gateway_dispatch_latency_seconds_bucket{le=\"0.0005\"}", text, StringComparison.Ordinal);
            Assert.Contains("gateway_delivery_latency_seconds_bucket{le=\"0.05\"}", text, StringComparison.Ordinal);

            // .NET runtime and Kestrel meters, and process metrics.
            AssertSample(text, "dotnet_gc_collections_total{", v => v >= 0);
            AssertSample(text, "dotnet_process_cpu_time_seconds_total{", v => v > 0);
            AssertSample(text, "kestrel_active_connections{", v => v >= 1);
            AssertSample(text, "process_cpu_seconds_total", v => v > 0);
        }
    }

    [Fact]
    public async Task Every_exported_metric_follows_prometheus_naming_and_has_no_per_connection_labels()
    {
        await using var server = await GatewayServer.StartAsync();
        using var http = server.CreateHttpClient();
        var (client, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("bob"));
        await using (client)
        {
            using var published = await http.PostAsJsonAsync("/api/v1/notify", new { user = "bob", payload = 1 });
            Assert.Equal(HttpStatusCode.OK, published.StatusCode);
            await client.ReceiveUntilAsync(f => f.Kind == Gateway.Protocol.Frames.FrameKind.Message);

            var text = await OpsTestEnvironment.EventuallyAsync(
                async () =>
                {
                    var body = await http.GetStringAsync("/metrics");
                    return body.Contains("gateway_delivery_latency_seconds_bucket", StringComparison.Ordinal) ? body : null;
                },
                TimeSpan.FromSeconds(30),
                "/metrics with traffic");

            var types = TypeLine().Matches(text).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
            Assert.Contains("gateway_connections_opened_total", types.Keys);
            foreach (var (name, type) in types)
            {
                Assert.Matches("^[a-z_][a-z0-9_]*$", name);
                if (type == "counter")
                {
                    Assert.True(name.EndsWith("_total", StringComparison.Ordinal), $"counter {name} must end with _total");
                }

                if (type == "histogram" && (name.StartsWith("gateway_", StringComparison.Ordinal) || name.Contains("duration", StringComparison.Ordinal)))
                {
                    Assert.True(
                        name.EndsWith("_seconds", StringComparison.Ordinal) || name.EndsWith("_bytes", StringComparison.Ordinal),
                        $"histogram {name} must carry its unit (_seconds or _bytes)");
                }

                if (type == "gauge")
                {
                    Assert.False(name.EndsWith("_total", StringComparison.Ordinal) && name.StartsWith("gateway_", StringComparison.Ordinal), $"gauge {name} must not end with _total");
                }
            }

            // Byte counters carry the unit.
            Assert.Contains("gateway_bytes_in_total", types.Keys);

            // No per-connection or per-user labels anywhere.
            foreach (Match label in LabelName().Matches(text))
            {
                var name = label.Groups[1].Value;
                Assert.DoesNotContain("connection_id", name, StringComparison.Ordinal);
                Assert.NotEqual("user", name);
                Assert.NotEqual("topic", name);
            }

            Assert.DoesNotContain("alice", text, StringComparison.Ordinal);
            Assert.DoesNotContain("user:bob", text, StringComparison.Ordinal);
        }
    }

    private static void AssertSample(string text, string prefix, Func<double, bool> check)
    {
        var lines = text.Split('\n').Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count > 0, $"no sample starting with {prefix}");
        var values = lines.Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(values.Any(check), $"{prefix}: no sample satisfies the check; got {string.Join(", ", lines)}");
    }

    [GeneratedRegex(@"^# TYPE (\S+) (\S+)$", RegexOptions.Multiline)]
    private static partial Regex TypeLine();

    [GeneratedRegex(@"[{,]([a-zA-Z_][a-zA-Z0-9_]*)=""")]
    private static partial Regex LabelName();
}
