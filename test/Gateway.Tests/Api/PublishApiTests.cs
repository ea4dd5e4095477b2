using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Api;

/// <summary>The HTTP publish API: results, idempotency, batch, frames body, auth, and problem+json for every client mistake.</summary>
public sealed class PublishApiTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private readonly GatewayServer _server = fixture.Server;

    [Fact]
    public async Task Publish_returns_topic_epoch_and_increasing_offsets()
    {
        using var http = _server.CreateHttpClient();
        var topic = $"team:{Guid.NewGuid():N}";
        var first = await PublishAsync(http, new { topic, payload = "a" });
        var second = await PublishAsync(http, new { topic, payloadBase64 = Convert.ToBase64String([1, 2, 3]) });
        Assert.Equal(topic, first.GetProperty("topic").GetString());
        Assert.Equal(first.GetProperty("epoch").GetUInt64(), second.GetProperty("epoch").GetUInt64());
        Assert.True(second.GetProperty("offset").GetUInt64() > first.GetProperty("offset").GetUInt64());
    }

    [Fact]
    public async Task Idempotency_key_returns_the_first_result()
    {
        using var http = _server.CreateHttpClient();
        var topic = $"team:{Guid.NewGuid():N}";
        var key = Guid.NewGuid().ToString();
        var first = await PublishAsync(http, new { topic, payload = 1, idempotencyKey = key });
        var again = await PublishAsync(http, new { topic, payload = 1, idempotencyKey = key });
        var other = await PublishAsync(http, new { topic, payload = 1, idempotencyKey = key + "x" });
        Assert.Equal(first.GetProperty("offset").GetUInt64(), again.GetProperty("offset").GetUInt64());
        Assert.NotEqual(first.GetProperty("offset").GetUInt64(), other.GetProperty("offset").GetUInt64());
    }

    [Fact]
    public async Task Batch_gives_one_result_per_message_in_order_with_errors_inline()
    {
        using var http = _server.CreateHttpClient();
        var topic = $"team:{Guid.NewGuid():N}";
        var response = await http.PostAsJsonAsync("api/v1/batch", new
        {
            messages = new object[]
            {
                new { topic, payload = 1 },
                new { topic = "bad topic", payload = 2 },
                new { topic, payload = 3, priority = "normal" },
                new { topic, payload = 4, priority = "urgent" },
            },
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var results = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(4, results.Count);
        Assert.True(results[2].GetProperty("offset").GetUInt64() > results[0].GetProperty("offset").GetUInt64());
        Assert.Equal("invalid_topic", results[1].GetProperty("error").GetProperty("error").GetString());
        Assert.Equal(400, results[1].GetProperty("error").GetProperty("status").GetInt32());
        Assert.Equal("invalid_priority", results[3].GetProperty("error").GetProperty("error").GetString());
    }

    [Fact]
    public async Task Frames_body_publishes_each_publish_frame()
    {
        var topic = $"team:{Guid.NewGuid():N}";
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("framesreader", subscribe: ["team:*"]));
        await using var _c = client;
        await client.SendAsync(Frames.Subscribe(1, topic));
        Assert.Equal(FrameKind.Subscribed, (await client.ReceiveAsync()).Kind);

        var body = new System.Buffers.ArrayBufferWriter<byte>();
        FrameWriter.WritePublish(body, 0, Priority.Normal, topic, "one"u8);
        FrameWriter.WritePublish(body, 0, Priority.Low, topic, "two"u8);
        using var http = _server.CreateHttpClient();
        using var content = new ByteArrayContent(body.WrittenMemory.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.archmesh.frames");
        var response = await http.PostAsync("api/v1/publish", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var results = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results");
        Assert.Equal(2, results.GetArrayLength());
        Assert.Equal("one", (await client.ReceiveAsync()).PayloadText);
        Assert.Equal("two", (await client.ReceiveAsync()).PayloadText);
    }

    [Fact]
    public async Task Publisher_jwt_is_accepted_within_its_publish_patterns_only()
    {
        using var http = _server.CreateHttpClient(withApiKey: false);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", GatewayServer.MintToken("svc", publish: ["team:*"]));
        var ok = await http.PostAsJsonAsync("api/v1/publish", new { topic = "team:9", payload = 1 });
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        await AssertProblemAsync(await http.PostAsJsonAsync("api/v1/publish", new { topic = "ops:9", payload = 1 }), 403, "forbidden");
        await AssertProblemAsync(await http.PostAsync("api/v1/admin/drain", null), 403, "forbidden");
    }

    public static TheoryData<string, string, string?, int, string> ClientMistakes() => new()
    {
        { "api/v1/publish", "{not json", "application/json", 400, "malformed_frame" },
        { "api/v1/publish", """{"payload":1}""", "application/json", 400, "malformed_frame" },
        { "api/v1/publish", """{"topic":"a b","payload":1}""", "application/json", 400, "invalid_topic" },
        { "api/v1/publish", """{"topic":"team:1","payload":1,"priority":"asap"}""", "application/json", 400, "invalid_priority" },
        { "api/v1/publish", """{"topic":"team:1"}""", "application/json", 400, "malformed_frame" },
        { "api/v1/publish", """{"topic":"team:1","payloadBase64":"***"}""", "application/json", 400, "malformed_frame" },
        { "api/v1/publish", """{"topic":"team:1","payload":1,"payloadBase64":"AA=="}""", "application/json", 400, "malformed_frame" },
        { "api/v1/publish", "\u0000\u0000\u0000\u0001\u007f\u0000\u0000", "application/vnd.archmesh.frames", 400, "unknown_frame_kind" },
        { "api/v1/notify", """{"payload":1}""", "application/json", 400, "malformed_frame" },
        { "api/v1/batch", """{"messages":[]}""", "application/json", 400, "malformed_frame" },
        { "api/v1/publish", "[1,2]", "application/json", 400, "malformed_frame" },
        { "api/v1/publish", "topic=x", "application/x-www-form-urlencoded", 415, "text_not_supported" },
    };

    [Theory]
    [MemberData(nameof(ClientMistakes))]
    public async Task Client_mistakes_are_problem_json_with_code_and_name(string path, string body, string? contentType, int status, string error)
    {
        using var http = _server.CreateHttpClient();
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = contentType is null ? null : new MediaTypeHeaderValue(contentType);
        await AssertProblemAsync(await http.PostAsync(path, content), status, error);
    }

    [Fact]
    public async Task Oversized_payload_is_413()
    {
        using var http = _server.CreateHttpClient();
        var big = Convert.ToBase64String(new byte[100 * 1024]);
        await AssertProblemAsync(await http.PostAsJsonAsync("api/v1/publish", new { topic = "team:big", payloadBase64 = big }), 413, "payload_too_large");
    }

    [Fact]
    public async Task Missing_or_wrong_credentials_are_401_problems()
    {
        using var anonymous = _server.CreateHttpClient(withApiKey: false);
        await AssertProblemAsync(await anonymous.PostAsJsonAsync("api/v1/publish", new { topic = "team:1", payload = 1 }), 401, "unauthorized");

        anonymous.DefaultRequestHeaders.Add("X-Api-Key", "wrong");
        await AssertProblemAsync(await anonymous.PostAsJsonAsync("api/v1/publish", new { topic = "team:1", payload = 1 }), 401, "unauthorized");

        using var bearer = _server.CreateHttpClient(withApiKey: false);
        bearer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", GatewayServer.MintToken("nopub"));
        await AssertProblemAsync(await bearer.PostAsJsonAsync("api/v1/publish", new { topic = "team:1", payload = 1 }), 403, "forbidden");
        Assert.DoesNotContain(_server.LogLines, l => l.Contains(GatewayServer.ApiKey, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Openapi_document_lists_the_publish_endpoints()
    {
        using var http = _server.CreateHttpClient(withApiKey: false);
        var document = await http.GetFromJsonAsync<JsonElement>("openapi/v1.json");
        var paths = document.GetProperty("paths");
        foreach (var path in new[] { "/api/v1/publish", "/api/v1/notify", "/api/v1/workflows/{id}", "/api/v1/broadcast", "/api/v1/batch", "/api/v1/admin/drain" })
        {
            Assert.True(paths.TryGetProperty(path, out _), path);
        }
    }

    private static async Task<JsonElement> PublishAsync(HttpClient http, object body)
    {
        var response = await http.PostAsJsonAsync("api/v1/publish", body);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, int status, string error)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.Equal(error, problem.GetProperty("error").GetString());
        Assert.True(problem.GetProperty("code").GetInt32() > 0);
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
    }
}
