using System.Net;
using System.Text.Json;
using Gateway.Hosting;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Operations;

/// <summary>/health/live and /health/ready against a real gateway over HTTP.</summary>
public sealed class HealthEndpointTests
{
    [Fact]
    public async Task Live_and_ready_answer_200_with_json_detail_on_a_healthy_node()
    {
        await using var server = await GatewayServer.StartAsync();
        using var http = server.CreateHttpClient(withApiKey: false);

        foreach (var path in new[] { "/health/live", "/health/ready" })
        {
            using var response = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("Healthy", Assert.Single(response.Headers.GetValues("X-Health-Status")));
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal("Healthy", json.RootElement.GetProperty("status").GetString());
            Assert.Equal("test-node", json.RootElement.GetProperty("node").GetString());
            var workers = json.RootElement.GetProperty("checks").GetProperty("workers");
            Assert.Equal("Healthy", workers.GetProperty("status").GetString());
            Assert.Equal(2, workers.GetProperty("data").GetProperty("workers").GetInt32());
        }

        using var ready = JsonDocument.Parse(await http.GetStringAsync("/health/ready"));
        var readiness = ready.RootElement.GetProperty("checks").GetProperty("readiness");
        Assert.False(readiness.GetProperty("data").GetProperty("draining").GetBoolean());
        Assert.True(readiness.GetProperty("data").GetProperty("engineAvailable").GetBoolean());
        Assert.Equal(0, readiness.GetProperty("data").GetProperty("ringDepth").GetProperty("critical").GetInt64());

        // Liveness does not include the readiness checks (a full or draining node must not be restarted).
        using var live = JsonDocument.Parse(await http.GetStringAsync("/health/live"));
        Assert.False(live.RootElement.GetProperty("checks").TryGetProperty("readiness", out _));
    }

    [Fact]
    public async Task Ready_is_503_at_the_connection_cap_and_200_again_below_it()
    {
        await using var server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Limits:MaxConnections"] = "1", ["Gateway:Limits:MaxConnectionsPerIp"] = "1" });
        using var http = server.CreateHttpClient(withApiKey: false);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);

        var (client, _) = await TestClient.ConnectAsync(server, GatewayServer.MintToken("alice"));
        await using (client)
        {
            using var atCap = await http.GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, atCap.StatusCode);
            var body = await atCap.Content.ReadAsStringAsync();
            Assert.Contains("connection cap", body, StringComparison.Ordinal);

            // Still alive: a full node must not be restarted.
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);
        }

        await OpsTestEnvironment.EventuallyAsync(
            async () => (await http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK ? "ok" : null,
            TimeSpan.FromSeconds(30),
            "ready to return to 200 after the client left");
    }

    [Fact]
    public async Task Ready_is_503_while_draining_and_live_stays_200()
    {
        await using var server = await GatewayServer.StartAsync();
        using var http = server.CreateHttpClient(withApiKey: false);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);

        var drain = server.GetRequiredService<GatewayLifetime>().DrainAsync("test");

        using var response = await http.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("Unhealthy", Assert.Single(response.Headers.GetValues("X-Health-Status")));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Unhealthy", json.RootElement.GetProperty("status").GetString());
        Assert.True(json.RootElement.GetProperty("checks").GetProperty("readiness").GetProperty("data").GetProperty("draining").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/live")).StatusCode);

        await drain.WaitAsync(TimeSpan.FromSeconds(60));
    }
}
