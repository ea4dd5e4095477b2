using System.Buffers;
using System.Net.WebSockets;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.EndToEnd;

/// <summary>
/// Issue 10 (3): a fatal close first delivers every answer the connection owes — in particular the PublishAck of
/// every publish it had accepted, even those still in the dispatcher — and only then the Error frame and the close.
/// </summary>
public sealed class FatalCloseTests(FatalCloseTests.Fixture fixture) : IClassFixture<FatalCloseTests.Fixture>
{
    private const string Topic = "team:acks";

    private readonly GatewayServer _server = fixture.Server;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Rate_limit_close_answers_every_publish_it_processed_before_the_error(bool tcp)
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("acks-rate-" + tcp, publish: ["team:*"]), tcp);
        await using var _c = client;

        // More publishes than the burst allows: the first ~3,000 are accepted, then each is refused (rate_limited,
        // a request error) until the 50th consecutive refusal closes the connection.
        const int sent = 5_000;
        await client.SendAsync(w =>
        {
            for (var i = 1; i <= sent; i++)
            {
                FrameWriter.WritePublish(w, (uint)i, Priority.Normal, Topic, "p"u8);
            }
        });

        var (frames, status) = await client.ReadUntilClosedAsync(TimeSpan.FromSeconds(60));
        var fatal = frames[^1];
        Assert.True(fatal.Kind == FrameKind.Error && fatal.ErrorCode == ErrorCode.RateLimited, $"last frame: {fatal}");
        if (!tcp)
        {
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, status);
        }

        var acks = frames.Count(f => f.Kind == FrameKind.PublishAck);
        AssertEveryRequestAnsweredOnce(frames, fatal.CorrelationId);
        Assert.True(acks >= 2_000, $"only {acks} publishes were accepted");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Protocol_error_close_sends_the_acks_of_all_accepted_publishes_before_the_error(bool tcp)
    {
        var (client, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("acks-proto-" + tcp, publish: ["team:*"]), tcp);
        await using var _c = client;
        const int sent = 2_000;
        await client.SendAsync(w =>
        {
            for (var i = 1; i <= sent; i++)
            {
                FrameWriter.WritePublish(w, (uint)i, Priority.Normal, Topic, "p"u8);
            }

            w.Write(new byte[] { 0, 0, 0, 1, 0x7F, 0, 0 }); // unknown frame kind: fatal
        });

        var (frames, status) = await client.ReadUntilClosedAsync(TimeSpan.FromSeconds(60));
        var fatal = frames[^1];
        Assert.True(fatal.Kind == FrameKind.Error && fatal.ErrorCode == ErrorCode.UnknownFrameKind, $"last frame: {fatal}");
        if (!tcp)
        {
            Assert.Equal(WebSocketCloseStatus.ProtocolError, status);
        }

        var acked = frames.Where(f => f.Kind == FrameKind.PublishAck).Select(f => f.CorrelationId).ToList();
        Assert.Equal(Enumerable.Range(1, sent).Select(i => (uint)i), acked.Order());
        Assert.Single(frames, f => f.Kind == FrameKind.Error);
    }

    /// <summary>
    /// Requests 1..fatal-1 each got exactly one answer (PublishAck or a rate_limited Error) before the fatal Error, which
    /// answers <paramref name="fatalId"/>; nothing after it was processed.
    /// </summary>
    private static void AssertEveryRequestAnsweredOnce(List<ReceivedFrame> frames, uint fatalId)
    {
        Assert.True(fatalId > 0, "the fatal Error carries the id of the publish that caused it");
        var answers = frames.Take(frames.Count - 1)
            .Where(f => f.Kind is FrameKind.PublishAck or FrameKind.Error && f.CorrelationId != 0)
            .GroupBy(f => f.CorrelationId)
            .ToDictionary(g => g.Key, g => g.Count());
        var missing = Enumerable.Range(1, (int)fatalId - 1).Where(i => !answers.ContainsKey((uint)i)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} publishes before the fatal one ({fatalId}) got no answer, e.g. {string.Join(", ", missing.Take(10))}");
        Assert.DoesNotContain(answers, a => a.Value != 1);
        Assert.DoesNotContain(answers, a => a.Key >= fatalId);
    }

    public sealed class Fixture : ServerFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Gateway:Limits:FramesPerSecond"] = "1000",
            ["Gateway:Limits:FrameBurst"] = "3000",
            ["Gateway:Limits:MaxRateLimitStrikes"] = "50",
        };
    }
}
