using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gateway.Hosting;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.Api;

/// <summary>
/// The HTTP security layer over real sockets: API key scopes and the publish/admin policies, the per-caller rate
/// limiter (429 + Retry-After, one caller throttled while another is not, refusals logged sampled), the operations
/// endpoints' admin requirement (explicit, and Production's default) and the management listener, per-route body limits.
/// </summary>
public sealed class HttpSecurityTests
{
    private const string PublishKey = "publish-only-key-3d9a1c";
    private const string AdminKey = "admin-only-key-8e2b7f";
    private const string OtherKey = "other-caller-key-5a4c2e";

    private static readonly string[] OperationsPaths = ["/metrics", "/api/v1/stats", "/api/v1/stats/history", "/api/v1/stats/cluster", "/dashboard"];

    [Fact]
    public async Task Rate_limit_refuses_one_caller_with_429_and_retry_after_while_another_caller_still_publishes()
    {
        await using var server = await GatewayServer.StartAsync(Keys(new()
        {
            ["Gateway:Http:RateLimit:RequestsPerSecond"] = "1",
            ["Gateway:Http:RateLimit:Burst"] = "3",
        }));
        using var greedy = server.CreateHttpClient();
        using var other = Client(server.HttpAddress, OtherKey);

        HttpResponseMessage? refused = null;
        var accepted = 0;
        for (var i = 0; i < 20 && refused is null; i++)
        {
            var response = await greedy.PostAsJsonAsync("api/v1/broadcast", new { payload = i });
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refused = response;
            }
            else
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                accepted++;
                response.Dispose();
            }
        }

        Assert.NotNull(refused);
        using (refused)
        {
            Assert.InRange(accepted, 3, 5);
            var retryAfter = Assert.Single(refused.Headers.GetValues("Retry-After"));
            Assert.InRange(int.Parse(retryAfter, System.Globalization.CultureInfo.InvariantCulture), 1, 60);
            await AssertProblemAsync(refused, 429, "rate_limited");
        }

        // The other caller has its own bucket.
        using (var response = await other.PostAsJsonAsync("api/v1/broadcast", new { payload = "other" }))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // A flood of refusals: one warning line for the caller (the first), not one per request.
        for (var i = 0; i < 20; i++)
        {
            using var response = await greedy.PostAsJsonAsync("api/v1/broadcast", new { payload = i });
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        }

        var lines = server.LogLines.Where(l => l.Contains("HTTP API refused", StringComparison.Ordinal) && l.Contains("key:tests", StringComparison.Ordinal)).ToList();
        Assert.Single(lines);
        Assert.Contains("rate_limited", lines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Drain_needs_the_admin_scope_and_publishing_needs_the_publish_scope()
    {
        await using var server = await GatewayServer.StartAsync(Keys([]));
        using var publisher = Client(server.HttpAddress, PublishKey);
        using var admin = Client(server.HttpAddress, AdminKey);

        using (var response = await publisher.PostAsJsonAsync("api/v1/broadcast", new { payload = 1 }))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var response = await admin.PostAsJsonAsync("api/v1/broadcast", new { payload = 1 }))
        {
            await AssertProblemAsync(response, 403, "forbidden");
        }

        using (var response = await publisher.PostAsync("api/v1/admin/drain", null))
        {
            await AssertProblemAsync(response, 403, "forbidden");
        }

        Assert.False(server.GetRequiredService<GatewayLifetime>().IsDraining);
        using (var response = await admin.PostAsync("api/v1/admin/drain", null))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        Assert.True(server.GetRequiredService<GatewayLifetime>().IsDraining);
    }

    [Fact]
    public async Task Operations_endpoints_with_RequireAdminKey_need_an_admin_key_and_health_stays_open()
    {
        await using var server = await GatewayServer.StartAsync(Keys(new() { ["Gateway:Management:RequireAdminKey"] = "true" }));
        await AssertOperationsNeedAdminAsync(server.HttpAddress);
    }

    [Fact]
    public async Task Production_without_a_management_listener_protects_the_operations_endpoints_by_default()
    {
        await using var server = await GatewayServer.StartAsync(Keys([]), environment: "Production");
        await AssertOperationsNeedAdminAsync(server.HttpAddress);
    }

    [Fact]
    public async Task Management_listener_serves_the_operations_endpoints_and_the_public_listener_answers_404()
    {
        await using var server = await GatewayServer.StartAsync(Keys(new() { ["Gateway:Management:Urls"] = "http://127.0.0.1:0" }), environment: "Production");
        var endpoint = Assert.Single(server.GetRequiredService<KestrelEndpoints>().ManagementEndPoints);
        var management = new Uri($"http://{endpoint.Address}:{endpoint.Port}/");
        using var anonymousPublic = Client(server.HttpAddress, null);
        using var adminPublic = Client(server.HttpAddress, AdminKey);
        using var anonymousManagement = Client(management, null);
        using var publisherManagement = Client(management, PublishKey);

        foreach (var path in OperationsPaths)
        {
            using var onPublic = await adminPublic.GetAsync(path);
            await AssertProblemAsync(onPublic, 404, null);

            // Production with a management listener: open there (the listener is the protection).
            using var onManagement = await anonymousManagement.GetAsync(path);
            Assert.True(onManagement.StatusCode == HttpStatusCode.OK, $"{path} on the management listener: {(int)onManagement.StatusCode}");
        }

        using (var drain = await adminPublic.PostAsync("api/v1/admin/drain", null))
        {
            await AssertProblemAsync(drain, 404, null);
        }

        // The management listener serves nothing else but health; health is on both.
        using (var publish = await publisherManagement.PostAsJsonAsync("api/v1/broadcast", new { payload = 1 }))
        {
            await AssertProblemAsync(publish, 404, null);
        }

        foreach (var http in new[] { anonymousPublic, anonymousManagement })
        {
            using var ready = await http.GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        using (var publish = Client(server.HttpAddress, PublishKey))
        using (var response = await publish.PostAsJsonAsync("api/v1/broadcast", new { payload = 1 }))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // The drain on the management listener still needs an admin key.
        using (var drain = await publisherManagement.PostAsync("api/v1/admin/drain", null))
        {
            await AssertProblemAsync(drain, 403, "forbidden");
        }

        using var adminManagement = Client(management, AdminKey);
        using (var drain = await adminManagement.PostAsync("api/v1/admin/drain", null))
        {
            Assert.Equal(HttpStatusCode.Accepted, drain.StatusCode);
        }
    }

    [Fact]
    public async Task Single_message_routes_have_their_own_body_limit()
    {
        await using var server = await GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Http:MaxMessageBodyBytes"] = "2048" });
        using var http = server.CreateHttpClient();
        var payload = new string('x', 4096);

        using (var response = await http.PostAsJsonAsync("api/v1/notify", new { user = "alice", payload }))
        {
            await AssertProblemAsync(response, 413, "payload_too_large");
            Assert.Contains("Gateway:Http:MaxMessageBodyBytes", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var fresh = server.CreateHttpClient();
        using (var response = await fresh.PostAsJsonAsync("api/v1/publish", new { topic = "team:big", payload }))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task An_unknown_scope_stops_the_start_naming_the_setting()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Auth:ApiKeys:0:Scopes:0"] = "publish",
            ["Gateway:Auth:ApiKeys:0:Scopes:1"] = "root",
        }));
        Assert.Contains(error.Failures, f => f.Contains("Gateway:Auth:ApiKeys:0:Scopes", StringComparison.Ordinal));
    }

    private static async Task AssertOperationsNeedAdminAsync(Uri address)
    {
        using var anonymous = Client(address, null);
        using var publisher = Client(address, PublishKey);
        using var admin = Client(address, AdminKey);
        foreach (var path in OperationsPaths)
        {
            using (var response = await anonymous.GetAsync(path))
            {
                await AssertProblemAsync(response, 401, "unauthorized");
                Assert.True(response.Headers.WwwAuthenticate.Count > 0, path);
            }

            using (var response = await publisher.GetAsync(path))
            {
                await AssertProblemAsync(response, 403, "forbidden");
            }

            using (var response = await admin.GetAsync(path))
            {
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path} with the admin key: {(int)response.StatusCode}");
            }
        }

        foreach (var path in new[] { "/health/live", "/health/ready" })
        {
            using var response = await anonymous.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    /// <summary>The test settings with three more keys: publish only, admin only, and another publisher.</summary>
    private static Dictionary<string, string?> Keys(Dictionary<string, string?> settings)
    {
        (string Name, string Key, string Scopes)[] keys = [("publisher", PublishKey, "publish"), ("admin", AdminKey, "admin"), ("other", OtherKey, "publish")];
        for (var i = 0; i < keys.Length; i++)
        {
            settings[$"Gateway:Auth:ApiKeys:{i + 1}:Name"] = keys[i].Name;
            settings[$"Gateway:Auth:ApiKeys:{i + 1}:Sha256"] = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(keys[i].Key)));
            settings[$"Gateway:Auth:ApiKeys:{i + 1}:Scopes:0"] = keys[i].Scopes;
        }

        return settings;
    }

    private static HttpClient Client(Uri address, string? apiKey)
    {
        var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        }

        return client;
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, int status, string? error)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"{response.RequestMessage?.RequestUri}: expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        if (error is not null)
        {
            Assert.Equal(error, problem.GetProperty("error").GetString());
            Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
        }
    }
}
