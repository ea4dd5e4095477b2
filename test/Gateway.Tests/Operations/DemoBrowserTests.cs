using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Gateway.Tests.Operations;

/// <summary>
/// The <c>/demo</c> page in a real headless Chromium (Debian's /usr/bin/chromium) against a real gateway in
/// Development: messages published over the HTTP API show up, and the page reconnects when the gateway
/// restarts. Outside Development neither the page nor its token endpoint exist.
/// </summary>
public sealed class DemoBrowserTests : IDisposable
{
    private const string ChromiumPath = "/usr/bin/chromium";
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("gateway-demo-");

    public void Dispose() => _dir.Delete(recursive: true);

    [Theory]
    [InlineData("Production")]
    [InlineData("Testing")]
    public async Task Outside_Development_the_demo_and_its_token_endpoint_are_404(string environment)
    {
        await using var server = await GatewayServer.StartAsync(environment: environment);
        using var http = server.CreateHttpClient(withApiKey: false);
        foreach (var path in new[] { "/demo", "/demo/token", "/demo/token?user=alice", "/demo/demo.js", "/demo/gateway-client.js" })
        {
            using var response = await http.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{environment} {path}: {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task Demo_page_shows_published_messages_acks_and_reconnects_after_a_restart_and_a_screenshot_is_saved()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is required (Debian package 'chromium'; CI installs it from .ci/apt-packages).");
        var port = FreePort();
        var settings = new Dictionary<string, string?>
        {
            ["urls"] = $"http://127.0.0.1:{port}",
            ["Gateway:Auth:DevKeyFile"] = Path.Combine(_dir.FullName, "dev-keys.json"),
        };
        var server = await GatewayServer.StartAsync(settings, environment: "Development");
        try
        {
            using (var http = server.CreateHttpClient(withApiKey: false))
            {
                var token = await http.GetStringAsync("/demo/token?user=alice");
                var (client, connected) = await TestClient.ConnectAsync(server, token);
                await using (client)
                {
                    Assert.Equal("alice", connected.Text3);
                }

                using var bad = await http.GetAsync("/demo/token?user=" + Uri.EscapeDataString("a b"));
                Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            }

            // Published before the page loads: the page shows it as the retained state.
            await PublishAsync(server, "/api/v1/workflows/7f3a", new { payload = new { state = "running", progress = 0.25 } });

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
            var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1200, Height = 900 } });
            page.SetDefaultTimeout(60_000);
            var console = new List<string>();
            page.Console += (_, message) => console.Add($"{message.Type}: {message.Text}");
            page.PageError += (_, error) => console.Add($"pageerror: {error}");
            try
            {
                var response = await page.GotoAsync(new Uri(server.HttpAddress, "/demo?user=alice&workflows=7f3a").ToString());
                Assert.Equal(200, response!.Status);
                await page.WaitForSelectorAsync("#state[data-state=connected]");
                await page.WaitForSelectorAsync("#workflows li[data-workflow='7f3a'][data-progress='0.25']");
                Assert.Contains("retained state", await page.TextContentAsync("#workflows li .meta"), StringComparison.Ordinal);

                await PublishAsync(server, "/api/v1/workflows/7f3a", new { payload = new { state = "running", progress = 0.4 } });
                await PublishAsync(server, "/api/v1/notify", new { user = "alice", payload = new { title = "Build finished" }, priority = "high" });
                await PublishAsync(server, "/api/v1/broadcast", new { payload = "hello all" });

                await page.WaitForSelectorAsync("#workflows li[data-workflow='7f3a'][data-progress='0.4']");
                await page.WaitForSelectorAsync("#notifications li .text");
                Assert.Equal("""{"title":"Build finished"}""", await page.TextContentAsync("#notifications li .text"));
                Assert.Contains("user:alice", await page.TextContentAsync("#notifications li .meta"), StringComparison.Ordinal);
                await page.WaitForSelectorAsync("#broadcasts li .text");
                Assert.Equal("hello all", await page.TextContentAsync("#broadcasts li .text"));

                await page.ClickAsync("#notifications li button");
                await page.WaitForSelectorAsync("#notifications li.acked");

                await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(OpsTestEnvironment.ArtifactsDirectory, "demo.png"), FullPage = true });

                // Restart the gateway on the same port: the page reconnects with a fresh token and resubscribes;
                // the in-memory history is gone, so it reports the lost history and shows what comes next.
                await server.DisposeAsync();
                await page.WaitForSelectorAsync("#state:not([data-state=connected])");
                server = await GatewayServer.StartAsync(settings, environment: "Development");
                await page.WaitForSelectorAsync("#state[data-state=connected]");
                await page.WaitForFunctionAsync("() => document.getElementById('log').textContent.includes('history lost')");
                await PublishAsync(server, "/api/v1/workflows/7f3a", new { payload = new { state = "succeeded", progress = 1 } });
                await page.WaitForSelectorAsync("#workflows li[data-workflow='7f3a'][data-state='succeeded'][data-progress='1']");
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(OpsTestEnvironment.ArtifactsDirectory, "demo-after-restart.png"), FullPage = true });
                Assert.DoesNotContain(console, line => line.StartsWith("pageerror", StringComparison.Ordinal));
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"{e.Message}\nbrowser console:\n{string.Join('\n', console)}", e);
            }
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    private static async Task PublishAsync(GatewayServer server, string path, object body)
    {
        using var http = server.CreateHttpClient();
        using var response = await http.PostAsJsonAsync(path, body);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
