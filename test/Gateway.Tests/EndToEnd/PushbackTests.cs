using System.Diagnostics.Metrics;
using Gateway.Dispatch;
using Gateway.Hosting;
using Gateway.Protocol.Frames;
using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Tests.EndToEnd;

/// <summary>
/// A protocol publisher that outruns the dispatch backlog bound (Dispatch:MaxPendingDeliveries) is paused
/// (its connection is not read for a moment) and every publish is accepted in order: pushback, not refusal.
/// </summary>
public sealed class PushbackTests(PushbackTests.Fixture fixture) : IClassFixture<PushbackTests.Fixture>
{
    private readonly GatewayServer _server = fixture.Server;

    [Fact]
    public async Task A_publisher_over_the_backlog_bound_is_slowed_down_not_refused()
    {
        const int publishes = 300;
        var dispatcher = _server.App.Services.GetRequiredService<Dispatcher>();
        var ballast = new List<Session>();
        long backoffs = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == GatewayMetrics.MeterName && instrument.Name == "gateway.publish.backoffs")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref backoffs, value));
        listener.Start();

        var (publisher, _) = await TestClient.ConnectAsync(_server, GatewayServer.MintToken("bulk-publisher", subscribe: ["bulk:*"], publish: ["bulk:*"]), tcp: true);
        await using var _p = publisher;
        try
        {
            // 500 in-process subscribers (nobody reads them; their queues hold all 300 frames): every publish
            // costs 500 deliveries, so with a bound of 1 each publish waits for the previous one to be fanned out.
            for (var i = 0; i < 500; i++)
            {
                var session = dispatcher.Connect($"bulk-ballast-{i}", null);
                ballast.Add(session);
                Assert.Equal(Gateway.Protocol.Errors.ErrorCode.None, dispatcher.Subscribe(session, "bulk:feed", null, 0, 10));
            }

            await Task.Delay(200); // let the subscriptions land on the worker

            for (var i = 1; i <= publishes; i++)
            {
                await publisher.SendAsync(Frames.Publish((uint)i, "bulk:feed", "p" + i, Priority.Low));
            }

            var acked = new List<ulong>();
            while (acked.Count < publishes)
            {
                var frame = await publisher.ReceiveAsync(TimeSpan.FromSeconds(30));
                Assert.NotEqual(FrameKind.Error, frame.Kind); // never refused as overloaded
                if (frame.Kind == FrameKind.PublishAck)
                {
                    Assert.Equal((uint)(acked.Count + 1), frame.CorrelationId);
                    acked.Add(frame.Offset);
                }
            }

            Assert.Equal(Enumerable.Range(1, publishes).Select(i => (ulong)i), acked);
            listener.RecordObservableInstruments();
            Assert.True(Interlocked.Read(ref backoffs) > 0, "the publisher was never paused: the test did not exceed the bound");
        }
        finally
        {
            foreach (var session in ballast)
            {
                dispatcher.Disconnect(session);
            }
        }
    }

    public sealed class Fixture : ServerFixture
    {
        protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
        {
            ["Gateway:Dispatch:MaxPendingDeliveries"] = "1",
            ["Gateway:Limits:FrameBurst"] = "5000",
            ["Gateway:Limits:FramesPerSecond"] = "5000",
        };
    }
}
