using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Api;

/// <summary>
/// Idempotency keys over real HTTP: the same key with the same request replays the first result; with a
/// different request (payload, topic, route, priority) it is refused 422 <c>idempotency_conflict</c> and
/// nothing is published, also when the first request is still in flight.
/// </summary>
public sealed class IdempotencyTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private readonly GatewayServer _server = fixture.Server;

    [Fact]
    public async Task Same_key_with_a_different_payload_is_422_and_publishes_nothing()
    {
        using var http = _server.CreateHttpClient();
        var topic = $"team:{Guid.NewGuid():N}";
        var key = Guid.NewGuid().ToString();
        var first = await OffsetAsync(await PostJsonAsync(http, "api/v1/publish", $$"""{"topic":"{{topic}}","payload":{"n":1},"idempotencyKey":"{{key}}"}"""));

        await AssertConflictAsync(await PostJsonAsync(http, "api/v1/publish", $$"""{"topic":"{{topic}}","payload":{"n":2},"idempotencyKey":"{{key}}"}"""));

        // The same request spelled differently (member order, explicit default priority) is the same request.
        var replay = await OffsetAsync(await PostJsonAsync(http, "api/v1/publish", $$"""{"idempotencyKey":"{{key}}","priority":"normal","payload":{"n":1},"topic":"{{topic}}"}"""));
        Assert.Equal(first, replay);

        // Nothing was published between: the next message takes the very next offset.
        var next = await OffsetAsync(await PostJsonAsync(http, "api/v1/publish", $$"""{"topic":"{{topic}}","payload":"next"}"""));
        Assert.Equal(first + 1, next);
    }

    [Fact]
    public async Task Same_key_with_another_topic_route_or_priority_is_a_conflict_and_keys_are_per_caller()
    {
        using var http = _server.CreateHttpClient();
        var id = Guid.NewGuid().ToString("N");
        var key = Guid.NewGuid().ToString();
        var first = await OffsetAsync(await PostJsonAsync(http, "api/v1/publish", $$"""{"topic":"workflow:{{id}}","payload":1,"idempotencyKey":"{{key}}"}"""));

        await AssertConflictAsync(await PostJsonAsync(http, "api/v1/publish", $$"""{"topic":"workflow:{{id}}x","payload":1,"idempotencyKey":"{{key}}"}"""));
        await AssertConflictAsync(await PostJsonAsync(http, $"api/v1/workflows/{id}", $$"""{"payload":1,"idempotencyKey":"{{key}}"}"""));
        await AssertConflictAsync(await PostJsonAsync(http, "api/v1/publish", $$"""{"topic":"workflow:{{id}}","payload":1,"priority":"high","idempotencyKey":"{{key}}"}"""));
        Assert.Equal(first, await OffsetAsync(await PostJsonAsync(http, "api/v1/publish", $$"""{"topic":"workflow:{{id}}","payload":1,"idempotencyKey":"{{key}}"}""")));

        // Another caller's key space is its own: the same key there is neither a replay nor a conflict.
        using var publisher = _server.CreateHttpClient(withApiKey: false);
        publisher.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", GatewayServer.MintToken("svc-idem", publish: ["workflow:*"]));
        var other = await OffsetAsync(await PostJsonAsync(publisher, "api/v1/publish", $$"""{"topic":"workflow:{{id}}","payload":2,"idempotencyKey":"{{key}}"}"""));
        Assert.Equal(first + 1, other);
    }

    [Fact]
    public async Task Batch_items_reusing_a_key_with_another_request_get_an_inline_422()
    {
        using var http = _server.CreateHttpClient();
        var topic = $"team:{Guid.NewGuid():N}";
        var key = Guid.NewGuid().ToString();
        var response = await http.PostAsJsonAsync("api/v1/batch", new
        {
            messages = new object[]
            {
                new { topic, payload = 1, idempotencyKey = key },
                new { topic, payload = 2, idempotencyKey = key },
                new { topic, payload = 1, idempotencyKey = key },
            },
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var results = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results").EnumerateArray().ToList();
        var error = results[1].GetProperty("error");
        Assert.Equal("idempotency_conflict", error.GetProperty("error").GetString());
        Assert.Equal(422, error.GetProperty("status").GetInt32());
        Assert.Equal(0x0307, error.GetProperty("code").GetInt32());
        Assert.Equal(results[0].GetProperty("offset").GetUInt64(), results[2].GetProperty("offset").GetUInt64());
    }

    [Fact]
    public async Task Concurrent_requests_with_one_key_publish_once_replays_agree_and_different_bodies_get_422()
    {
        var topic = $"team:{Guid.NewGuid():N}";
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("idemreader", subscribe: ["team:*"]));
        await using var _c = client;
        await client.SendAsync(Frames.Subscribe(1, topic));
        Assert.Equal(FrameKind.Subscribed, (await client.ReceiveAsync()).Kind);

        using var http = _server.CreateHttpClient();
        var key = Guid.NewGuid().ToString();
        using var start = new SemaphoreSlim(0);
        var requests = Enumerable.Range(0, 16).Select(async i =>
        {
            var payload = i % 2 == 0 ? "\"A\"" : "\"B\"";
            await start.WaitAsync();
            var response = await PostJsonAsync(http, "api/v1/publish", $$"""{"topic":"{{topic}}","payload":{{payload}},"idempotencyKey":"{{key}}"}""");
            return (Payload: payload, Response: response);
        }).ToList();
        start.Release(requests.Count);
        var answers = await Task.WhenAll(requests);

        // Exactly one message was published: the first thing after it on the topic is the marker.
        var published = await client.ReceiveAsync();
        Assert.Equal(FrameKind.Message, published.Kind);
        using var marker = await PostJsonAsync(http, "api/v1/publish", $$"""{"topic":"{{topic}}","payload":"marker"}""");
        var after = await client.ReceiveAsync();
        Assert.Equal("\"marker\"", after.PayloadText);
        Assert.Equal(published.Offset + 1, after.Offset);

        foreach (var (payload, response) in answers)
        {
            if (payload == published.PayloadText)
            {
                Assert.Equal(published.Offset, await OffsetAsync(response));
            }
            else
            {
                await AssertConflictAsync(response);
            }
        }
    }

    private static async Task<HttpResponseMessage> PostJsonAsync(HttpClient http, string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        return await http.PostAsync(path, content);
    }

    private static async Task<ulong> OffsetAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("offset").GetUInt64();
    }

    private static async Task AssertConflictAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.UnprocessableEntity, $"expected 422, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal(422, problem.GetProperty("status").GetInt32());
        Assert.Equal("idempotency_conflict", problem.GetProperty("error").GetString());
        Assert.Equal(0x0307, problem.GetProperty("code").GetInt32());
        Assert.False(problem.GetProperty("retryable").GetBoolean());
        Assert.Contains("different request", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
