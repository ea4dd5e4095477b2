using System.Net;
using System.Net.Http.Json;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace Gateway.Tests.Operations;

/// <summary>The live dashboard in a real headless Chromium (Debian's /usr/bin/chromium) against a real gateway.</summary>
public sealed class DashboardBrowserTests
{
    private const string ChromiumPath = "/usr/bin/chromium";
    private readonly ITestOutputHelper _output;

    public DashboardBrowserTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task Dashboard_shows_the_connected_client_and_live_figures_and_a_screenshot_is_saved()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is required (Debian package 'chromium'; CI installs it from .ci/apt-packages).");

        await using var server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Stats:Interval"] = "00:00:01",
            ["Gateway:Stats:SampleInterval"] = "00:00:00.500",
        });

        // The static files are served by the gateway itself.
        using (var http = server.CreateHttpClient(withApiKey: false))
        {
            using var page = await http.GetAsync("/dashboard");
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/dashboard/dashboard.js")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/dashboard/dashboard.css")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/dashboard/nope.js")).StatusCode);
        }

        var (client, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("erin"));
        await using (client)
        {
            // Playwright launches Chromium with a fresh temporary profile (its own --user-data-dir) and removes it on close.
            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ChromiumPath,
                Headless = true,
                Timeout = 120_000,
                Args =
                [
                    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                ],
            });
            var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 1500 } });
            page.SetDefaultTimeout(60_000);
            var consoleErrors = new List<string>();
            page.Console += (_, message) =>
            {
                if (message.Type == "error")
                {
                    consoleErrors.Add($"{message.Text} ({message.Location})");
                }
            };

            var response = await page.GotoAsync(new Uri(server.HttpAddress, "/dashboard").ToString());
            Assert.NotNull(response);
            Assert.Equal(200, response.Status);

            // Live figures: the connected client shows up.
            await page.WaitForFunctionAsync("() => Number(document.getElementById('connections').textContent) >= 1", null, new PageWaitForFunctionOptions { Timeout = 60_000 });
            Assert.Equal("1", (await page.TextContentAsync("#connections"))?.Trim());

            // Publish traffic the client receives, so rates and latency have data, then wait for charts to draw lines.
            using (var http = server.CreateHttpClient())
            {
                for (var i = 0; i < 10; i++)
                {
                    using var r = await http.PostAsJsonAsync("/api/v1/notify", new { user = "erin", payload = new { i }, priority = i % 2 == 0 ? "high" : "low" });
                    Assert.Equal(HttpStatusCode.OK, r.StatusCode);
                }
            }

            for (var i = 0; i < 10; i++)
            {
                await client.ReceiveUntilAsync(f => f.Kind == FrameKind.Message);
            }

            await page.WaitForFunctionAsync("() => document.querySelectorAll('#chart-connections polyline').length >= 1", null, new PageWaitForFunctionOptions { Timeout = 60_000 });
            await page.WaitForFunctionAsync("() => document.querySelectorAll('#chart-e2e polyline[data-series=p99]').length === 1", null, new PageWaitForFunctionOptions { Timeout = 60_000 });

            var status = await page.TextContentAsync("#status");
            Assert.Contains("test-node", status, StringComparison.Ordinal);
            Assert.Contains("ready", status, StringComparison.Ordinal);
            var nodeRow = await page.TextContentAsync("#nodes tbody tr");
            Assert.Contains("test-node", nodeRow, StringComparison.Ordinal);

            // The cluster table: on the in-memory engine this node is the whole cluster, with its connection.
            await page.WaitForFunctionAsync("() => document.querySelectorAll('#cluster tbody tr').length === 1", null, new PageWaitForFunctionOptions { Timeout = 60_000 });
            var clusterCells = await page.Locator("#cluster tbody tr td").AllTextContentsAsync();
            Assert.Contains("test-node", clusterCells[0], StringComparison.Ordinal);
            Assert.StartsWith("ready", clusterCells[1], StringComparison.Ordinal);
            Assert.Contains("in-memory", clusterCells[2], StringComparison.Ordinal);
            Assert.Equal("1", clusterCells[3]);
            Assert.Contains("in-memory engine", await page.TextContentAsync("#cluster-view"), StringComparison.Ordinal);
            Assert.Contains("1 connections", await page.TextContentAsync("#cluster-totals"), StringComparison.Ordinal);
            Assert.Empty(consoleErrors);

            var screenshot = Path.Combine(OpsTestEnvironment.ArtifactsDirectory, "dashboard.png");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
            Assert.True(new FileInfo(screenshot).Length > 10_000);
            _output.WriteLine($"dashboard screenshot: {screenshot}");
            Console.WriteLine($"dashboard screenshot: {screenshot}");
        }
    }
}
