using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>
/// Issue 10, observation 2: one burst of critical/high messages larger than a connection's outbound queue
/// (1 MiB by default) must not disconnect a subscriber that reads; the HTTP API's largest request (4 MiB)
/// fits the burst allowance (docs/dispatch.md, "Bursts"). Default queue settings.
/// </summary>
public sealed class BurstTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private readonly GatewayServer _server = fixture.Server;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task A_reading_subscriber_survives_a_1_5_MiB_JSON_batch_of_high_messages(int run)
    {
        var topic = $"team:burst-json-{run}";
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("burst-json-" + run, subscribe: ["team:*"]));
        await using var _c = client;
        await client.SendAsync(Frames.Subscribe(1, topic));
        Assert.Equal(FrameKind.Subscribed, (await client.ReceiveAsync()).Kind);

        // 48 × 32 KiB = 1.5 MiB of high messages in one request.
        const int count = 48;
        var payload = Convert.ToBase64String(new byte[32 * 1024]);
        using var http = _server.CreateHttpClient();
        var messages = Enumerable.Range(0, count).Select(_ => new { topic, payloadBase64 = payload, priority = "high" }).ToArray();
        var response = await http.PostAsJsonAsync("api/v1/batch", new { messages });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        await ReceiveAllAsync(client, topic, count);
    }

    [Fact]
    public async Task A_reading_subscriber_survives_the_largest_request_the_HTTP_API_accepts()
    {
        var topic = "team:burst-frames";
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("burst-frames", subscribe: ["team:*"]));
        await using var _c = client;
        await client.SendAsync(Frames.Subscribe(1, topic));
        Assert.Equal(FrameKind.Subscribed, (await client.ReceiveAsync()).Kind);

        // 1,000 messages (the batch limit) of critical/high frames, just under the 4 MiB body limit.
        const int count = 1000;
        var body = new ArrayBufferWriter<byte>();
        var payload = new byte[4096];
        for (var i = 0; i < count; i++)
        {
            FrameWriter.WritePublish(body, 0, i % 2 == 0 ? Priority.Critical : Priority.High, topic, payload);
        }

        Assert.InRange(body.WrittenCount, 4_000_000, 4 * 1024 * 1024);
        using var http = _server.CreateHttpClient();
        using var content = new ByteArrayContent(body.WrittenMemory.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.archmesh.frames");
        var response = await http.PostAsync("api/v1/publish", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        await ReceiveAllAsync(client, topic, count);
    }

    private static async Task ReceiveAllAsync(TestClient client, string topic, int count)
    {
        var offsets = new List<ulong>();
        while (offsets.Count < count)
        {
            var frame = await client.ReceiveAsync(TimeSpan.FromSeconds(30));
            Assert.True(frame.Kind == FrameKind.Message && frame.Topic == topic, frame.ToString());
            offsets.Add(frame.Offset);
        }

        Assert.Equal(Enumerable.Range(1, count).Select(i => (ulong)i), offsets);
        Assert.False(client.Closed.IsCompleted, "the subscriber was closed");
    }
}
