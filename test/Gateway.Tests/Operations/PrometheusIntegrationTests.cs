using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Gateway.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Gateway.Tests.Operations;

/// <summary>
/// The deploy/prometheus files checked by promtool, and a real Prometheus (Debian package
/// 'prometheus') scraping an in-process gateway on loopback with the shipped alert rules loaded.
/// </summary>
public sealed class PrometheusIntegrationTests
{
    private const string PrometheusPath = "/usr/bin/prometheus";
    private const string PromtoolPath = "/usr/bin/promtool";
    private readonly ITestOutputHelper _output;

    public PrometheusIntegrationTests(ITestOutputHelper output) => _output = output;

    private static string AlertsFile => Path.Combine(OpsTestEnvironment.RepositoryRoot, "deploy", "prometheus", "alerts.yml");

    [Fact]
    public async Task Promtool_accepts_the_alert_rules_the_scrape_config_and_the_rule_unit_tests()
    {
        Assert.True(File.Exists(PromtoolPath), $"{PromtoolPath} is required (Debian package 'prometheus').");
        var dir = Path.Combine(OpsTestEnvironment.RepositoryRoot, "deploy", "prometheus");

        var rules = await OpsTestEnvironment.RunAsync(PromtoolPath, ["check", "rules", AlertsFile], TimeSpan.FromMinutes(2));
        _output.WriteLine(rules.Output);
        Assert.Equal(0, rules.ExitCode);
        Assert.Contains("SUCCESS", rules.Output, StringComparison.Ordinal);

        var config = await OpsTestEnvironment.RunAsync(PromtoolPath, ["check", "config", Path.Combine(dir, "prometheus.yml")], TimeSpan.FromMinutes(2));
        _output.WriteLine(config.Output);
        Assert.Equal(0, config.ExitCode);

        var unit = await OpsTestEnvironment.RunAsync(PromtoolPath, ["test", "rules", Path.Combine(dir, "alerts.test.yml")], TimeSpan.FromMinutes(2));
        _output.WriteLine(unit.Output);
        Assert.Equal(0, unit.ExitCode);
        Assert.Contains("SUCCESS", unit.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_real_prometheus_scrapes_the_gateway_and_evaluates_the_alert_rules()
    {
        Assert.True(File.Exists(PrometheusPath), $"{PrometheusPath} is required (Debian package 'prometheus').");
        await using var server = await GatewayServer.StartAsync();
        var (client, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("frank"));
        await using var _ = client;

        var work = Directory.CreateTempSubdirectory("archmesh-prometheus-");
        var port = OpsTestEnvironment.FreePort();
        var target = $"{server.HttpAddress.Host}:{server.HttpAddress.Port}";
        var configPath = Path.Combine(work.FullName, "prometheus.yml");
        await File.WriteAllTextAsync(configPath, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files:
              - {AlertsFile}
            scrape_configs:
              - job_name: archmesh-gateway
                metrics_path: /metrics
                static_configs:
                  - targets: ["{target}"]
            """);

        var start = new ProcessStartInfo(PrometheusPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("--config.file=" + configPath);
        start.ArgumentList.Add("--storage.tsdb.path=" + Path.Combine(work.FullName, "data"));
        start.ArgumentList.Add($"--web.listen-address=127.0.0.1:{port}");
        using var prometheus = Process.Start(start) ?? throw new InvalidOperationException("could not start prometheus");
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        prometheus.OutputDataReceived += (_, e) => log.Enqueue(e.Data ?? "");
        prometheus.ErrorDataReceived += (_, e) => log.Enqueue(e.Data ?? "");
        prometheus.BeginOutputReadLine();
        prometheus.BeginErrorReadLine();
        try
        {
            using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(10) };

            // The target is scraped and up.
            await OpsTestEnvironment.EventuallyAsync(
                async () =>
                {
                    Assert.False(prometheus.HasExited, "prometheus exited: " + string.Join('\n', log));
                    using var targets = JsonDocument.Parse(await api.GetStringAsync("api/v1/targets"));
                    var active = targets.RootElement.GetProperty("data").GetProperty("activeTargets").EnumerateArray().ToList();
                    return active.Count == 1 && active[0].GetProperty("health").GetString() == "up" ? "up" : null;
                },
                TimeSpan.FromSeconds(120),
                "the gateway target to be up in Prometheus");

            // Gateway metrics are queryable, with the values the gateway has.
            var connections = await QueryScalarAsync(api, "gateway_connections_current{job=\"archmesh-gateway\"}");
            Assert.True(connections >= 1, $"gateway_connections_current = {connections}");
            Assert.Equal(1, await QueryScalarAsync(api, "up{job=\"archmesh-gateway\"}"));
            Assert.Equal(1, await QueryScalarAsync(api, "gateway_ready"));
            Assert.True(await QueryScalarAsync(api, "sum(gateway_dispatch_ring_capacity)") > 0);

            // Every query of the shipped Grafana dashboard is valid PromQL over the real series.
            using var grafana = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(OpsTestEnvironment.RepositoryRoot, "deploy", "grafana", "archmesh-gateway.json")));
            var expressions = grafana.RootElement.GetProperty("panels").EnumerateArray()
                .SelectMany(p => p.GetProperty("targets").EnumerateArray())
                .Select(t => t.GetProperty("expr").GetString()!)
                .ToList();
            Assert.True(expressions.Count >= 20, $"{expressions.Count} dashboard queries");
            foreach (var expression in expressions)
            {
                var query = expression.Replace("$__rate_interval", "1m", StringComparison.Ordinal).Replace("$instance", ".*", StringComparison.Ordinal);
                using var result = await api.GetAsync("api/v1/query?query=" + Uri.EscapeDataString(query));
                var body = await result.Content.ReadAsStringAsync();
                Assert.True(result.IsSuccessStatusCode, $"{query}: {body}");
                using var json = JsonDocument.Parse(body);
                Assert.Equal("success", json.RootElement.GetProperty("status").GetString());
            }

            // Every shipped alert rule evaluates without error against the real series, and none fires on a healthy node.
            var rules = await OpsTestEnvironment.EventuallyAsync(
                async () =>
                {
                    var doc = JsonDocument.Parse(await api.GetStringAsync("api/v1/rules?type=alert"));
                    var all = doc.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray()
                        .SelectMany(g => g.GetProperty("rules").EnumerateArray()).ToList();
                    // Inactive too: rules evaluated before the first scrape see no series at all (GatewayNoNodeUp is
                    // pending then) and settle at the next evaluation; a rule that really fires never does.
                    return all.Count > 0 && all.All(r => r.GetProperty("health").GetString() == "ok" && r.GetProperty("state").GetString() == "inactive") ? doc : null;
                },
                TimeSpan.FromSeconds(60),
                "every alert rule to be evaluated with health ok and inactive on a healthy node");
            using (rules)
            {
                var all = rules.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray()
                    .SelectMany(g => g.GetProperty("rules").EnumerateArray()).ToList();
                Assert.Equal(20, all.Count);
                Assert.All(all, r => Assert.Equal("inactive", r.GetProperty("state").GetString()));
            }
        }
        finally
        {
            if (!prometheus.HasExited)
            {
                prometheus.Kill(entireProcessTree: true);
            }

            await prometheus.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            try
            {
                work.Delete(recursive: true);
            }
            catch (IOException)
            {
                // Best effort; the directory is under the temp folder.
            }
        }
    }

    private static async Task<double> QueryScalarAsync(HttpClient api, string query)
    {
        var text = await OpsTestEnvironment.EventuallyAsync(
            async () =>
            {
                using var doc = JsonDocument.Parse(await api.GetStringAsync("api/v1/query?query=" + Uri.EscapeDataString(query)));
                var result = doc.RootElement.GetProperty("data").GetProperty("result");
                return result.GetArrayLength() > 0 ? result[0].GetProperty("value")[1].GetString() : null;
            },
            TimeSpan.FromSeconds(60),
            $"a result for {query}");
        return double.Parse(text, CultureInfo.InvariantCulture);
    }
}
