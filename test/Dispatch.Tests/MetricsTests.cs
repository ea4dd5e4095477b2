using System.Diagnostics.Metrics;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests;

public class MetricsTests
{
    [Fact]
    public async Task Meter_exports_counters_by_priority_gauges_and_latency()
    {
        await using var h = new Harness(o => o.WorkerCount = 1);
        var d = h.Dispatcher;
        var longs = new List<(string Name, long Value, string? Tag)>();
        var latencies = new List<double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // Only this test's dispatcher (other tests run their own dispatchers in parallel).
            if (instrument.Meter.Name == "Gateway.Dispatch" && ReferenceEquals(instrument.Meter, d.Meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? tag = null;
            foreach (var t in tags)
            {
                tag = $"{t.Key}={t.Value}";
            }

            lock (longs)
            {
                longs.Add((instrument.Name, value, tag));
            }
        });
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            if (instrument.Name == "gateway.dispatch.latency")
            {
                lock (latencies)
                {
                    latencies.Add(value);
                }
            }
        });
        listener.Start();

        var a = h.Connect("a");
        d.Subscribe(a.Session, "m", null, 1, 10);
        for (var i = 0; i < 3; i++)
        {
            await d.PublishAsync("m", Priority.High, new byte[] { 1 });
        }

        await d.PublishAsync("m", Priority.Low, new byte[] { 1 });
        d.TryPublish("bad topic", Priority.Low, [1]);
        listener.RecordObservableInstruments();

        lock (longs)
        {
            Assert.Contains(("gateway.dispatch.messages.enqueued", 3L, "priority=high"), longs);
            Assert.Contains(("gateway.dispatch.messages.dispatched", 1L, "priority=low"), longs);
            Assert.Contains(("gateway.dispatch.messages.shed", 0L, "priority=low"), longs);
            Assert.Contains(("gateway.dispatch.ring.depth", 0L, "priority=critical"), longs);
            Assert.Contains(("gateway.dispatch.publish.rejects", 1L, "reason=invalid"), longs);
            Assert.Contains(("gateway.dispatch.connections", 1L, null), longs);
            Assert.Contains(longs, m => m.Name == "gateway.dispatch.slow_consumer.closes");
        }

        lock (latencies)
        {
            Assert.Equal(4, latencies.Count);
            Assert.All(latencies, s => Assert.InRange(s, 0, 60));
        }
    }
}
