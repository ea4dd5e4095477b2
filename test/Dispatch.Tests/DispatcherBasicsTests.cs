using System.Buffers;
using System.Text;
using Gateway.Protocol;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests;

public class DispatcherBasicsTests
{
    private static byte[] Payload(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public async Task Subscriber_receives_messages_with_increasing_offsets_and_one_epoch()
    {
        await using var h = new Harness();
        var a = h.Connect("a");
        Assert.Equal(ErrorCode.None, h.Dispatcher.Subscribe(a.Session, "news", null, 7, 10));
        Assert.True(await a.WaitUntilAsync(i => i.Frames.Any(f => f.Kind == FrameKind.Subscribed)));
        var subscribed = a.Frames.Single(f => f.Kind == FrameKind.Subscribed);
        Assert.Equal(7u, subscribed.CorrelationId);
        Assert.Equal(0ul, subscribed.Offset);
        Assert.NotEqual(0ul, subscribed.Epoch);

        for (var i = 1; i <= 20; i++)
        {
            Assert.Equal(ErrorCode.None, h.Dispatcher.TryPublish("news", Priority.Normal, Payload($"m{i}")));
        }

        Assert.True(await a.WaitForMessagesAsync(20));
        var messages = a.Messages;
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (ulong)i), messages.Select(m => m.Offset));
        Assert.All(messages, m => Assert.Equal(subscribed.Epoch, m.Epoch));
        Assert.Equal(Enumerable.Range(1, 20).Select(i => $"m{i}"), messages.Select(m => Encoding.UTF8.GetString(m.Payload)));
        Assert.All(messages, m => Assert.Equal(FrameFlags.None, m.Flags));
    }

    [Fact]
    public async Task Publish_ack_and_publish_async_report_the_assigned_position()
    {
        await using var h = new Harness();
        var publisher = h.Connect("p");
        Assert.Equal(ErrorCode.None, h.Dispatcher.TryPublish("orders", Priority.High, Payload("x"), publisher.Session, 42));
        var result = await h.Dispatcher.PublishAsync("orders", Priority.Low, Payload("y")).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(ErrorCode.None, result.Error);
        Assert.Equal(2ul, result.Offset);

        Assert.True(await publisher.WaitUntilAsync(i => i.Frames.Any(f => f.Kind == FrameKind.PublishAck)));
        var ack = publisher.Frames.Single(f => f.Kind == FrameKind.PublishAck);
        Assert.Equal(42u, ack.CorrelationId);
        Assert.Equal(1ul, ack.Offset);
        Assert.Equal(result.Epoch, ack.Epoch);
    }

    [Fact]
    public async Task Publish_frame_path_parses_and_dispatches()
    {
        await using var h = new Harness();
        var sub = h.Connect("s");
        h.Dispatcher.Subscribe(sub.Session, "t/1", null, 1, 10);
        Assert.True(await sub.WaitUntilAsync(i => i.Frames.Count == 1));
        var buffer = new ArrayBufferWriter<byte>();
        FrameWriter.WritePublish(buffer, 9, Priority.Critical, "t/1", Payload("hello"));
        Assert.True(FrameReader.TryRead(new System.Buffers.ReadOnlySequence<byte>(buffer.WrittenMemory), ProtocolLimits.Default, out var frame, out _));
        Assert.Equal(ErrorCode.None, h.Dispatcher.TryPublish(frame, sub.Session));
        Assert.True(await sub.WaitUntilAsync(i => i.Messages.Count == 1 && i.Frames.Any(f => f.Kind == FrameKind.PublishAck)));
        Assert.Equal("hello", Encoding.UTF8.GetString(sub.Messages[0].Payload));
        Assert.Equal(Priority.Critical, sub.Messages[0].Priority);
    }

    [Fact]
    public async Task Invalid_requests_are_refused_with_codes_and_counted()
    {
        await using var h = new Harness(o => o.MaxPayloadBytes = 100);
        var a = h.Connect("a");
        Assert.Equal(ErrorCode.InvalidTopic, h.Dispatcher.TryPublish("bad topic", Priority.Low, Payload("x")));
        Assert.Equal(ErrorCode.InvalidTopic, h.Dispatcher.TryPublish("", Priority.Low, Payload("x")));
        Assert.Equal(ErrorCode.PayloadTooLarge, h.Dispatcher.TryPublish("ok", Priority.Low, new byte[101]));
        Assert.Equal(ErrorCode.InvalidPriority, h.Dispatcher.TryPublish("ok", (Priority)7, Payload("x")));
        Assert.Equal(ErrorCode.PayloadTooLarge, (await h.Dispatcher.PublishAsync("ok", Priority.Low, new byte[101])).Error);

        Assert.Equal(ErrorCode.InvalidTopic, h.Dispatcher.Subscribe(a.Session, "a*", null, 1, 10));
        Assert.Equal(ErrorCode.None, h.Dispatcher.Subscribe(a.Session, "one", null, 1, 2));
        Assert.Equal(ErrorCode.AlreadySubscribed, h.Dispatcher.Subscribe(a.Session, "one", null, 2, 2));
        Assert.Equal(ErrorCode.None, h.Dispatcher.Subscribe(a.Session, "two", null, 3, 2));
        Assert.Equal(ErrorCode.TooManySubscriptions, h.Dispatcher.Subscribe(a.Session, "three", null, 4, 2));
        Assert.Equal(ErrorCode.AlreadySubscribed, h.Dispatcher.Subscribe(a.Session, "broadcast", null, 5, 10));
        Assert.Equal(ErrorCode.NotSubscribed, h.Dispatcher.Unsubscribe(a.Session, "three", 6));
        Assert.Equal(2, a.Session.SubscriptionCount);

        var stats = h.Dispatcher.GetStats();
        Assert.Equal(3, stats.RejectedInvalid);
        Assert.Equal(2, stats.RejectedPayloadTooLarge);
    }

    [Fact]
    public async Task Full_ring_rejects_with_overloaded_and_counts_it()
    {
        await using var h = new Harness(o => { o.WorkerCount = 1; o.RingCapacity = 4; }, start: false);
        var results = Enumerable.Range(0, 6).Select(_ => h.Dispatcher.TryPublish("x", Priority.Normal, Payload("p"))).ToList();
        Assert.Equal(4, results.Count(r => r == ErrorCode.None));
        Assert.Equal(2, results.Count(r => r == ErrorCode.Overloaded));
        var stats = h.Dispatcher.GetStats();
        Assert.Equal(2, stats.RejectedOverloaded);
        Assert.Equal(4, stats.RingDepth[(int)Priority.Normal]);
        Assert.Equal(4, stats.Enqueued[(int)Priority.Normal]);
        // Other priorities have their own rings.
        Assert.Equal(ErrorCode.None, h.Dispatcher.TryPublish("x", Priority.Critical, Payload("p")));
    }

    [Fact]
    public async Task Unsubscribe_stops_delivery_after_unsubscribed_frame()
    {
        await using var h = new Harness();
        var a = h.Connect("a");
        h.Dispatcher.Subscribe(a.Session, "t", null, 1, 10);
        h.Dispatcher.TryPublish("t", Priority.Normal, Payload("1"));
        Assert.True(await a.WaitForMessagesAsync(1));
        Assert.Equal(ErrorCode.None, h.Dispatcher.Unsubscribe(a.Session, "t", 2));
        Assert.True(await a.WaitUntilAsync(i => i.Frames.Any(f => f.Kind == FrameKind.Unsubscribed)));
        Assert.Equal(2u, a.Frames[^1].CorrelationId);
        var before = a.Frames.Count;
        var result = await h.Dispatcher.PublishAsync("t", Priority.Normal, Payload("2"));
        Assert.Equal(2ul, result.Offset);
        // The offset was assigned on the owner after the unsubscribe was processed there: nothing more arrives.
        var b = h.Connect("b");
        h.Dispatcher.Subscribe(b.Session, "t", null, 1, 10);
        Assert.True(await b.WaitUntilAsync(i => i.Frames.Count == 1));
        a.Pump();
        Assert.Equal(before, a.Frames.Count);
    }

    [Fact]
    public async Task Disconnect_is_idempotent_releases_queued_frames_and_leaves_registries()
    {
        await using var h = new Harness();
        var a = h.Connect("a", "alice");
        var b = h.Connect("b", "alice");
        Assert.Equal(2, h.Dispatcher.GetUserSessions("alice").Count);
        Assert.Equal(2, h.Dispatcher.SnapshotSessions().Count);
        h.Dispatcher.Subscribe(a.Session, "t", null, 1, 10);
        for (var i = 0; i < 10; i++)
        {
            h.Dispatcher.TryPublish("t", Priority.Normal, Payload("x"));
        }

        await h.Dispatcher.PublishAsync("t", Priority.Low, Payload("last"));
        Assert.True(a.Session.Outbound.Count > 0);
        h.Dispatcher.Disconnect(a.Session);
        h.Dispatcher.Disconnect(a.Session);
        Assert.Equal(0, a.Session.Outbound.Count);
        Assert.True(a.Session.IsClosed);
        Assert.False(await a.Session.Outbound.WaitToReadAsync());
        Assert.Single(h.Dispatcher.GetUserSessions("alice"));
        Assert.Same(b.Session, h.Dispatcher.SnapshotSessions().Single());
        Assert.Null(h.Dispatcher.FindSession("a"));
        Assert.Equal(1, h.Dispatcher.ConnectionCount);
        Assert.Throws<InvalidOperationException>(() => h.Dispatcher.Connect("b", null));
    }

    [Fact]
    public async Task Connected_frame_passed_to_connect_comes_first()
    {
        var time = new ManualTime();
        await using var h = new Harness(time: time);
        h.Dispatcher.TryPublish("user:zoe", Priority.High, Payload("pending"));
        await h.Dispatcher.PublishAsync("user:zoe", Priority.High, Payload("pending2"));
        var connected = h.Dispatcher.Pool.Rent(256);
        FrameWriter.WriteConnected(connected, 1000, 65536, 100, "c1", "node", "zoe");
        var inbox = new Inbox(h.Dispatcher.Connect("c1", "zoe", connected));
        Assert.True(await inbox.WaitForMessagesAsync(2));
        Assert.Equal(FrameKind.Connected, inbox.Frames[0].Kind);
        h.Dispatcher.Disconnect(inbox.Session);
    }

    [Fact]
    public async Task A_fault_in_one_item_is_counted_and_the_worker_keeps_going()
    {
        var engine = new FaultyEngine(new InMemoryDispatchEngine(new HistoryOptions(), 10, TimeSpan.FromHours(1)), "poison");
        await using var h = new Harness(o => o.WorkerCount = 1, engine: engine);
        var a = h.Connect("a");
        h.Dispatcher.Subscribe(a.Session, "fine", null, 1, 10);
        h.Dispatcher.Subscribe(a.Session, "poison", null, 2, 10);
        var failed = await h.Dispatcher.PublishAsync("poison", Priority.Normal, Payload("boom"));
        Assert.Equal(ErrorCode.InternalError, failed.Error);
        Assert.Equal(ErrorCode.None, h.Dispatcher.TryPublish("fine", Priority.Normal, Payload("ok")));
        Assert.True(await a.WaitForMessagesAsync(1));
        Assert.Equal("fine", a.Messages.Single().Topic);
        Assert.True(await Harness.EventuallyAsync(() => h.Dispatcher.GetStats().WorkerFaults == 1));
        engine.Dispose();
    }

    /// <summary>An engine whose stream for one topic throws on append (a real engine failing, e.g. storage).</summary>
    private sealed class FaultyEngine(IDispatchEngine inner, string poisoned) : IDispatchEngine
    {
        public string Name => "faulty";

        public bool IsAvailable => true;

        public string State => "local";

        public EngineCircuitState Circuit => EngineCircuitState.Closed;

        public IRemoteStreams? Remote => null;

        public ITopicStream CreateStream(string topic, TopicKind kind)
        {
            var stream = inner.CreateStream(topic, kind);
            return topic == poisoned ? new Throwing(stream) : stream;
        }

        public void Attach(IDispatchEngineSink sink) => inner.Attach(sink);

        public void Dispose() => inner.Dispose();

        private sealed class Throwing(ITopicStream inner) : ITopicStream
        {
            public string Topic => inner.Topic;

            public StreamPosition Position => inner.Position;

            public FrameBuffer? Retained => inner.Retained;

            public int PendingCount => inner.PendingCount;

            public bool IsEmpty => inner.IsEmpty;

            public StreamPosition Append(FrameBuffer message, Priority priority) => throw new IOException("storage failed");

            public HistoryReadStatus ReadHistory(StreamPosition after, int maxMessages, long maxBytes, List<FrameBuffer> page) => inner.ReadHistory(after, maxMessages, maxBytes, page);

            public bool ReadPending(ulong afterOffset, int maxMessages, long maxBytes, List<FrameBuffer> page) => inner.ReadPending(afterOffset, maxMessages, maxBytes, page);

            public bool Acknowledge(ulong offset) => inner.Acknowledge(offset);

            public void Dispose() => inner.Dispose();
        }
    }
}
