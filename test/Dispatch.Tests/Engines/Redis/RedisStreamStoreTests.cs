using System.Collections.Concurrent;
using System.Text;
using Gateway.Dispatch.Engines.Redis;
using Gateway.Protocol;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests.Engines.Redis;

/// <summary>
/// The Redis store against a real redis-server shared by this class's tests (which xunit runs one at a time);
/// each test uses its own key prefix. Two store instances stand for two gateway nodes.
/// </summary>
public sealed class RedisStreamStoreTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly string _prefix = $"t{Guid.NewGuid():N}:";
    private readonly List<RedisStreamStore> _stores = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }
    }

    private async Task<RedisStreamStore> NodeAsync(string nodeId, Action<RedisStoreOptions>? configure = null)
    {
        var options = new RedisStoreOptions { Configuration = redis.Configuration, KeyPrefix = _prefix, NodeId = nodeId };
        configure?.Invoke(options);
        var store = await RedisStreamStore.ConnectAsync(options);
        _stores.Add(store);
        return store;
    }

    private static byte[] P(string text) => Encoding.UTF8.GetBytes(text);

    private static string S(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    [Fact]
    public async Task Two_nodes_appending_concurrently_get_unique_gap_free_offsets_and_one_epoch()
    {
        var a = await NodeAsync("a");
        var b = await NodeAsync("b");
        const int PerNode = 300;

        async Task<List<StreamPosition>> Publish(RedisStreamStore node, string name)
        {
            var positions = new List<StreamPosition>();
            for (var i = 0; i < PerNode; i++)
            {
                positions.Add(await node.AppendAsync("orders", TopicKind.Plain, Priority.Normal, Now(), P($"{name}{i}")));
            }

            return positions;
        }

        var results = await Task.WhenAll(Task.Run(() => Publish(a, "a")), Task.Run(() => Publish(b, "b")));
        var all = results.SelectMany(r => r).ToList();

        Assert.Single(all.Select(p => p.Epoch).Distinct());
        Assert.NotEqual(0ul, all[0].Epoch);
        Assert.Equal(Enumerable.Range(1, 2 * PerNode).Select(i => (ulong)i), all.Select(p => p.Offset).Order());
        Assert.All(results, r => Assert.Equal(r.Select(p => p.Offset).Order(), r.Select(p => p.Offset)));
        Assert.Equal(new StreamPosition(all[0].Epoch, 2 * PerNode), await b.GetPositionAsync("orders"));
    }

    [Fact]
    public async Task Pipelined_appends_get_offsets_in_issue_order()
    {
        var a = await NodeAsync("a");
        var tasks = new List<Task<StreamPosition>>();
        for (var i = 0; i < 500; i++)
        {
            // Not awaited one by one: all 500 commands are in flight together.
            tasks.Add(a.AppendAsync("pipelined", TopicKind.Plain, (Priority)(i % 4), Now(), P($"m{i}")));
        }

        var positions = await Task.WhenAll(tasks);
        Assert.Equal(Enumerable.Range(1, 500).Select(i => (ulong)i), positions.Select(p => p.Offset));

        var read = await a.ReadRangeAsync("pipelined", new StreamPosition(positions[0].Epoch, 0), 1000, long.MaxValue);
        Assert.Equal(Enumerable.Range(0, 500).Select(i => $"m{i}"), read.Messages.Select(m => S(m.Payload)));
        Assert.Equal(Enumerable.Range(0, 500).Select(i => (Priority)(i % 4)), read.Messages.Select(m => m.Priority));
    }

    [Fact]
    public async Task Append_is_one_round_trip()
    {
        var a = await NodeAsync("a");
        await a.AppendAsync("warm", TopicKind.User, Priority.Normal, Now(), P("x"));
        var admin = await redis.AdminAsync();
        await admin.ExecuteAsync("CONFIG", "RESETSTAT");

        const int Appends = 50;
        for (var i = 0; i < Appends; i++)
        {
            await a.AppendAsync(i % 2 == 0 ? "user:rt" : "workflow:rt", i % 2 == 0 ? TopicKind.User : TopicKind.Workflow, Priority.Normal, Now(), P("x"));
        }

        // One EVALSHA per append and nothing else sent by the client (script-internal calls are not round trips).
        Assert.Equal(Appends, await redis.CommandCallsAsync("evalsha"));
        Assert.Equal(0, await redis.CommandCallsAsync("eval"));
        Assert.Equal(0, await redis.CommandCallsAsync("script|load"));
    }

    [Fact]
    public async Task Appends_survive_a_flushed_script_cache()
    {
        var a = await NodeAsync("a");
        var first = await a.AppendAsync("scripts", TopicKind.Plain, Priority.Normal, Now(), P("1"));
        var admin = await redis.AdminAsync();
        await admin.ScriptFlushAsync();

        // The client answers NOSCRIPT by sending the script text once more.
        var second = await a.AppendAsync("scripts", TopicKind.Plain, Priority.Normal, Now(), P("2"));
        Assert.Equal(new StreamPosition(first.Epoch, 2), second);
    }

    [Fact]
    public async Task Range_read_pages_in_offset_order_until_end()
    {
        var a = await NodeAsync("a");
        var b = await NodeAsync("b");
        StreamPosition last = default;
        var start = Now();
        for (var i = 1; i <= 25; i++)
        {
            last = await a.AppendAsync("paged", TopicKind.Plain, Priority.High, start + i, P($"m{i}"));
        }

        var after = new StreamPosition(last.Epoch, 3);
        var seen = new List<StoredMessage>();
        var statuses = new List<RangeReadStatus>();
        while (true)
        {
            var page = await b.ReadRangeAsync("paged", after, 10, long.MaxValue);
            statuses.Add(page.Status);
            Assert.Equal(last, page.Current);
            seen.AddRange(page.Messages);
            if (page.Status != RangeReadStatus.Ok)
            {
                break;
            }

            after = new StreamPosition(after.Epoch, page.Messages[^1].Offset);
        }

        Assert.Equal([RangeReadStatus.Ok, RangeReadStatus.Ok, RangeReadStatus.End], statuses);
        Assert.Equal(Enumerable.Range(4, 22).Select(i => (ulong)i), seen.Select(m => m.Offset));
        Assert.Equal(Enumerable.Range(4, 22).Select(i => $"m{i}"), seen.Select(m => S(m.Payload)));
        Assert.All(seen, m => Assert.Equal(Priority.High, m.Priority));
        Assert.Equal(start + 4, seen[0].TimestampMs);

        // The byte bound cuts a page (but a page always carries at least one message).
        var bodySize = seen[0].Payload.Length + 11 + 1;
        var small = await b.ReadRangeAsync("paged", new StreamPosition(last.Epoch, 0), 100, (2 * bodySize) + 1);
        Assert.Equal(RangeReadStatus.Ok, small.Status);
        Assert.Equal(2, small.Messages.Count);
        var tiny = await b.ReadRangeAsync("paged", new StreamPosition(last.Epoch, 0), 100, 1);
        Assert.Single(tiny.Messages);

        // Nothing missed: End with no message.
        var upToDate = await b.ReadRangeAsync("paged", last, 10, long.MaxValue);
        Assert.Equal(RangeReadStatus.End, upToDate.Status);
        Assert.Empty(upToDate.Messages);
    }

    [Fact]
    public async Task Range_read_is_gone_after_trimming_by_count_bytes_and_age()
    {
        var a = await NodeAsync("a", o =>
        {
            o.History.MaxMessages = 5;
            o.History.MaxBytes = 1024;
            o.History.MaxAge = TimeSpan.FromMinutes(1);
        });

        // Count: 12 appended, 5 kept (8..12).
        StreamPosition last = default;
        for (var i = 1; i <= 12; i++)
        {
            last = await a.AppendAsync("trim-count", TopicKind.Plain, Priority.Normal, Now(), P($"m{i}"));
        }

        Assert.Equal(RangeReadStatus.Gone, (await a.ReadRangeAsync("trim-count", new StreamPosition(last.Epoch, 3), 100, long.MaxValue)).Status);
        var kept = await a.ReadRangeAsync("trim-count", new StreamPosition(last.Epoch, 7), 100, long.MaxValue);
        Assert.Equal(RangeReadStatus.End, kept.Status);
        Assert.Equal([8ul, 9, 10, 11, 12], kept.Messages.Select(m => m.Offset));

        // Bytes: 300-byte payloads, at most 1024 bytes of records: 3 kept.
        for (var i = 1; i <= 6; i++)
        {
            last = await a.AppendAsync("trim-bytes", TopicKind.Plain, Priority.Normal, Now(), new byte[300]);
        }

        Assert.Equal(RangeReadStatus.Gone, (await a.ReadRangeAsync("trim-bytes", new StreamPosition(last.Epoch, 2), 100, long.MaxValue)).Status);
        Assert.Equal(3, (await a.ReadRangeAsync("trim-bytes", new StreamPosition(last.Epoch, 3), 100, long.MaxValue)).Messages.Count);

        // A message larger than the byte bound is numbered but not kept: recovering across it is impossible.
        var big = await a.AppendAsync("trim-bytes", TopicKind.Plain, Priority.Normal, Now(), new byte[2000]);
        Assert.Equal(RangeReadStatus.Gone, (await a.ReadRangeAsync("trim-bytes", new StreamPosition(last.Epoch, 6), 100, long.MaxValue)).Status);
        Assert.Equal(RangeReadStatus.End, (await a.ReadRangeAsync("trim-bytes", big, 100, long.MaxValue)).Status);

        // Age: messages stamped two minutes ago are beyond the 1-minute bound for a reader now...
        var old = Now() - 120_000;
        for (var i = 1; i <= 3; i++)
        {
            last = await a.AppendAsync("trim-age", TopicKind.Plain, Priority.Normal, old + i, P($"old{i}"));
        }

        Assert.Equal(RangeReadStatus.Gone, (await a.ReadRangeAsync("trim-age", new StreamPosition(last.Epoch, 0), 100, long.MaxValue)).Status);

        // ...and the next append trims them from the stream.
        var fresh = await a.AppendAsync("trim-age", TopicKind.Plain, Priority.Normal, Now(), P("fresh"));
        Assert.Equal(RangeReadStatus.Gone, (await a.ReadRangeAsync("trim-age", new StreamPosition(last.Epoch, 0), 100, long.MaxValue)).Status);
        var afterOld = await a.ReadRangeAsync("trim-age", last, 100, long.MaxValue);
        Assert.Equal(["fresh"], afterOld.Messages.Select(m => S(m.Payload)));
        Assert.Equal(fresh.Offset, afterOld.Messages[0].Offset);
        var admin = await redis.AdminAsync();
        Assert.Equal(1, (long)await admin.Multiplexer.GetDatabase().ExecuteAsync("XLEN", $"{_prefix}{{trim-age}}:stream"));
    }

    [Fact]
    public async Task Range_read_is_gone_for_another_epoch_a_future_position_and_after_flushall()
    {
        var a = await NodeAsync("a");
        StreamPosition last = default;
        for (var i = 1; i <= 5; i++)
        {
            last = await a.AppendAsync("epochs", TopicKind.Plain, Priority.Normal, Now(), P($"m{i}"));
        }

        Assert.Equal(RangeReadStatus.Gone, (await a.ReadRangeAsync("epochs", new StreamPosition(last.Epoch + 1, 2), 10, long.MaxValue)).Status);
        Assert.Equal(RangeReadStatus.Gone, (await a.ReadRangeAsync("epochs", new StreamPosition(last.Epoch, 6), 10, long.MaxValue)).Status);
        Assert.Equal(3, (await a.ReadRangeAsync("epochs", new StreamPosition(last.Epoch, 2), 10, long.MaxValue)).Messages.Count);

        var admin = await redis.AdminAsync();
        await admin.FlushAllDatabasesAsync();

        var gone = await a.ReadRangeAsync("epochs", new StreamPosition(last.Epoch, 2), 10, long.MaxValue);
        Assert.Equal(RangeReadStatus.Gone, gone.Status);
        Assert.Empty(gone.Messages);

        // The topic starts over with a new epoch; the old position stays unrecoverable.
        var next = await a.AppendAsync("epochs", TopicKind.Plain, Priority.Normal, Now(), P("new"));
        Assert.NotEqual(last.Epoch, next.Epoch);
        Assert.Equal(1ul, next.Offset);
        Assert.Equal(RangeReadStatus.Gone, (await a.ReadRangeAsync("epochs", new StreamPosition(last.Epoch, 5), 10, long.MaxValue)).Status);
        var fromStart = await a.ReadRangeAsync("epochs", new StreamPosition(next.Epoch, 0), 10, long.MaxValue);
        Assert.Equal(RangeReadStatus.End, fromStart.Status);
        Assert.Equal(["new"], fromStart.Messages.Select(m => S(m.Payload)));
    }

    [Fact]
    public async Task Position_creates_one_epoch_shared_by_all_nodes()
    {
        var a = await NodeAsync("a");
        var b = await NodeAsync("b");
        var first = await a.GetPositionAsync("fresh-topic");
        Assert.NotEqual(0ul, first.Epoch);
        Assert.Equal(0ul, first.Offset);
        Assert.Equal(first, await b.GetPositionAsync("fresh-topic"));

        var appended = await b.AppendAsync("fresh-topic", TopicKind.Plain, Priority.Low, Now(), P("x"));
        Assert.Equal(new StreamPosition(first.Epoch, 1), appended);
        Assert.Equal(appended, await a.GetPositionAsync("fresh-topic"));
    }

    [Fact]
    public async Task Pending_acknowledged_on_one_node_is_not_returned_by_the_other()
    {
        var a = await NodeAsync("a");
        var b = await NodeAsync("b");
        for (var i = 1; i <= 5; i++)
        {
            await a.AppendAsync("user:alice", TopicKind.User, Priority.High, Now(), P($"n{i}"));
        }

        var onB = await b.ReadPendingAsync("user:alice", 0, 100);
        Assert.Equal(["n1", "n2", "n3", "n4", "n5"], onB.Messages.Select(m => S(m.Payload)));
        Assert.Equal([1ul, 2, 3, 4, 5], onB.Messages.Select(m => m.Offset));
        Assert.Equal((await a.GetPositionAsync("user:alice")).Epoch, onB.Epoch);

        Assert.True(await a.AcknowledgeAsync("user:alice", 2));
        Assert.True(await b.AcknowledgeAsync("user:alice", 4));
        Assert.False(await b.AcknowledgeAsync("user:alice", 2)); // already acknowledged elsewhere
        Assert.False(await a.AcknowledgeAsync("user:alice", 99));

        Assert.Equal([1ul, 3, 5], (await b.ReadPendingAsync("user:alice", 0, 100)).Messages.Select(m => m.Offset));
        Assert.Equal([3ul, 5], (await a.ReadPendingAsync("user:alice", 1, 100)).Messages.Select(m => m.Offset));
        Assert.Equal([1ul, 3], (await a.ReadPendingAsync("user:alice", 0, 2)).Messages.Select(m => m.Offset));

        // Other topics keep nothing pending.
        await a.AppendAsync("team:1", TopicKind.Plain, Priority.Normal, Now(), P("x"));
        Assert.Empty((await a.ReadPendingAsync("team:1", 0, 10)).Messages);
    }

    [Fact]
    public async Task Pending_is_bounded_per_user_and_expires()
    {
        var time = new ManualTime();
        var a = await NodeAsync("a", o =>
        {
            o.MaxPendingPerUser = 3;
            o.PendingTtl = TimeSpan.FromMinutes(10);
            o.TimeProvider = time;
        });
        var b = await NodeAsync("b", o =>
        {
            o.MaxPendingPerUser = 3;
            o.PendingTtl = TimeSpan.FromMinutes(10);
            o.TimeProvider = time;
        });

        var start = time.GetUtcNow().ToUnixTimeMilliseconds();
        for (var i = 1; i <= 5; i++)
        {
            await a.AppendAsync("user:bob", TopicKind.User, Priority.Normal, start, P($"n{i}"));
        }

        // The oldest gave way.
        Assert.Equal([3ul, 4, 5], (await b.ReadPendingAsync("user:bob", 0, 100)).Messages.Select(m => m.Offset));

        // Five minutes later one more; ten minutes after the first ones, only it remains.
        time.Advance(TimeSpan.FromMinutes(5));
        await a.AppendAsync("user:bob", TopicKind.User, Priority.Normal, time.GetUtcNow().ToUnixTimeMilliseconds(), P("n6"));
        time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(1));
        Assert.False(await b.AcknowledgeAsync("user:bob", 4)); // expired: not pending any more
        Assert.Equal(["n6"], (await b.ReadPendingAsync("user:bob", 0, 100)).Messages.Select(m => S(m.Payload)));
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Empty((await a.ReadPendingAsync("user:bob", 0, 100)).Messages);

        // Pending storage can be switched off.
        var off = await NodeAsync("c", o => o.MaxPendingPerUser = 0);
        await off.AppendAsync("user:carol", TopicKind.User, Priority.Normal, Now(), P("x"));
        Assert.Empty((await off.ReadPendingAsync("user:carol", 0, 10)).Messages);
    }

    [Fact]
    public async Task Retained_workflow_message_is_the_latest_and_visible_on_every_node()
    {
        var a = await NodeAsync("a");
        var b = await NodeAsync("b");
        Assert.Null(await b.GetRetainedAsync("workflow:7f3a"));

        await a.AppendAsync("workflow:7f3a", TopicKind.Workflow, Priority.Normal, 111, P("started"));
        var last = await b.AppendAsync("workflow:7f3a", TopicKind.Workflow, Priority.Critical, 222, P("done"));
        await a.AppendAsync("plain", TopicKind.Plain, Priority.Normal, Now(), P("not retained"));

        var retained = await a.GetRetainedAsync("workflow:7f3a");
        Assert.NotNull(retained);
        Assert.Equal(last.Epoch, retained.Value.Epoch);
        Assert.Equal(new StoredMessage(2, Priority.Critical, 222, retained.Value.Message.Payload), retained.Value.Message);
        Assert.Equal("done", S(retained.Value.Message.Payload));
        Assert.Null(await a.GetRetainedAsync("plain"));
    }

    [Fact]
    public async Task Idempotency_keys_are_shared_across_nodes()
    {
        var a = await NodeAsync("a");
        var b = await NodeAsync("b");
        var fingerprint = P("sha-of-request");

        var begun = await a.TryBeginIdempotentAsync("pub1:req-42", fingerprint, TimeSpan.FromSeconds(30));
        Assert.Equal(IdempotencyState.Started, begun.State);

        var elsewhere = await b.TryBeginIdempotentAsync("pub1:req-42", fingerprint, TimeSpan.FromSeconds(30));
        Assert.Equal(IdempotencyState.InFlight, elsewhere.State);
        Assert.True(elsewhere.Matches(fingerprint));
        Assert.False(elsewhere.Matches(P("another request")));

        var position = await a.AppendAsync("orders", TopicKind.Plain, Priority.Normal, Now(), P("order"));
        Assert.False(await b.CompleteIdempotentAsync("pub1:req-42", P("another request"), position)); // held by another fingerprint
        Assert.True(await a.CompleteIdempotentAsync("pub1:req-42", fingerprint, position));
        Assert.False(await b.CompleteIdempotentAsync("pub1:req-42", fingerprint, new StreamPosition(1, 1))); // first completion wins

        var retry = await b.TryBeginIdempotentAsync("pub1:req-42", fingerprint, TimeSpan.FromSeconds(30));
        Assert.Equal(IdempotencyState.Completed, retry.State);
        Assert.Equal(position, retry.Result);
        Assert.True(retry.Matches(fingerprint));

        // A failed publish releases the key so a retry on any node can take it at once.
        Assert.Equal(IdempotencyState.Started, (await a.TryBeginIdempotentAsync("pub1:req-43", fingerprint, TimeSpan.FromSeconds(30))).State);
        Assert.False(await b.AbandonIdempotentAsync("pub1:req-43", P("another request")));
        Assert.True(await a.AbandonIdempotentAsync("pub1:req-43", fingerprint));
        Assert.Equal(IdempotencyState.Started, (await b.TryBeginIdempotentAsync("pub1:req-43", fingerprint, TimeSpan.FromSeconds(30))).State);

        // A crashed holder's claim expires.
        Assert.Equal(IdempotencyState.Started, (await a.TryBeginIdempotentAsync("pub1:req-44", fingerprint, TimeSpan.FromMilliseconds(50))).State);
        await Task.Delay(200);
        Assert.Equal(IdempotencyState.Started, (await b.TryBeginIdempotentAsync("pub1:req-44", fingerprint, TimeSpan.FromSeconds(30))).State);
    }

    [Fact]
    public async Task Idempotency_key_is_read_without_taking_it_and_completes_with_its_own_answer_and_ttl()
    {
        var a = await NodeAsync("a");
        var b = await NodeAsync("b");
        var held = P("sha|reservation-1");
        Assert.Null(await b.GetIdempotentAsync("pub1:req-50"));

        Assert.Equal(IdempotencyState.Started, (await a.TryBeginIdempotentAsync("pub1:req-50", held, TimeSpan.FromSeconds(30))).State);
        var inFlight = await b.GetIdempotentAsync("pub1:req-50");
        Assert.Equal(IdempotencyState.InFlight, inFlight?.State);
        Assert.True(inFlight!.Value.Matches(held));
        Assert.Equal(IdempotencyState.InFlight, (await b.GetIdempotentAsync("pub1:req-50"))?.State); // reading took nothing

        var position = new StreamPosition(7, 9);
        Assert.False(await b.CompleteIdempotentAsync("pub1:req-50", P("sha|reservation-2"), position, P("answer-2"), TimeSpan.FromSeconds(30)));
        Assert.True(await a.CompleteIdempotentAsync("pub1:req-50", held, position, P("sha|answer"), TimeSpan.FromMilliseconds(300)));
        var completed = await b.GetIdempotentAsync("pub1:req-50");
        Assert.Equal(IdempotencyState.Completed, completed?.State);
        Assert.Equal(position, completed!.Value.Result);
        Assert.Equal("sha|answer", S(completed.Value.Fingerprint));

        await Task.Delay(600); // the chosen TTL, not RedisStoreOptions.IdempotencyTtl
        Assert.Null(await b.GetIdempotentAsync("pub1:req-50"));
    }

    [Fact]
    public async Task Live_feed_delivers_other_nodes_records_in_order_until_unsubscribed()
    {
        var a = await NodeAsync("node-a");
        var b = await NodeAsync("node-b");
        var sentinel = await NodeAsync("node-c");
        Assert.True(b.UsesShardedChannels); // redis-server 7+

        var received = new ConcurrentQueue<(RemoteMessage Message, string Payload, string Node)>();
        b.MessageHandler = m => received.Enqueue((m, S(m.Payload), m.NodeId));
        var sentinelCount = 0;
        sentinel.MessageHandler = _ => Interlocked.Increment(ref sentinelCount);
        await b.SubscribeAsync("live");
        await b.SubscribeAsync("live"); // idempotent
        await sentinel.SubscribeAsync("live");
        Assert.Equal(1, b.SubscribedTopicCount);

        var sent = new List<StreamPosition>();
        for (var i = 0; i < 20; i++)
        {
            sent.Add(await a.AppendAsync("live", TopicKind.Plain, (Priority)(i % 4), 5000 + i, P($"m{i}")));
        }

        await WaitUntilAsync(() => received.Count == 20);
        var list = received.ToList();
        Assert.Equal(sent, list.Select(r => new StreamPosition(r.Message.Epoch, r.Message.Offset)));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}"), list.Select(r => r.Payload));
        Assert.All(list, r => Assert.Equal("node-a", r.Node));
        Assert.All(list, r => Assert.Equal("live", r.Message.Topic));
        Assert.All(list, r => Assert.True(r.Message.IsFrom(a.NodeIdUtf8.Span)));
        Assert.All(list, r => Assert.False(r.Message.IsFrom(b.NodeIdUtf8.Span)));
        Assert.Equal(5019, list[^1].Message.TimestampMs);
        Assert.Equal(Priority.Low, list[^1].Message.Priority);

        // Its own records come back too: the store does not filter, the engine does.
        await b.AppendAsync("live", TopicKind.Plain, Priority.Normal, Now(), P("own"));
        await WaitUntilAsync(() => received.Count == 21);
        Assert.True(received.Last().Message.IsFrom(b.NodeIdUtf8.Span));

        await b.UnsubscribeAsync("live");
        Assert.Equal(0, b.SubscribedTopicCount);
        await a.AppendAsync("live", TopicKind.Plain, Priority.Normal, Now(), P("after"));
        await WaitUntilAsync(() => Volatile.Read(ref sentinelCount) == 22);
        await Task.Delay(200);
        Assert.Equal(21, received.Count);
    }

    [Fact]
    public async Task Options_are_validated_with_the_setting_named()
    {
        static async Task<string> Message(Action<RedisStoreOptions> configure)
        {
            var options = new RedisStoreOptions { Configuration = "127.0.0.1:1" };
            configure(options);
            var error = await Assert.ThrowsAsync<ArgumentException>(() => RedisStreamStore.ConnectAsync(options));
            return error.Message;
        }

        Assert.Contains("Redis:Configuration", await Message(o => o.Configuration = ""));
        Assert.Contains("Redis:KeyPrefix", await Message(o => o.KeyPrefix = "a{b}"));
        Assert.Contains("Redis:NodeId", await Message(o => o.NodeId = ""));
        Assert.Contains("Redis:NodeId", await Message(o => o.NodeId = new string('n', 256)));
        Assert.Contains("Redis:MaxPendingPerUser", await Message(o => o.MaxPendingPerUser = -1));
        Assert.Contains("Redis:PendingTtl", await Message(o => o.PendingTtl = TimeSpan.Zero));
        Assert.Contains("Redis:IdempotencyTtl", await Message(o => o.IdempotencyTtl = TimeSpan.Zero));
        Assert.Contains("Redis:OperationTimeout", await Message(o => o.OperationTimeout = TimeSpan.Zero));
        Assert.Contains("History:MaxAge", await Message(o => o.History.MaxAge = TimeSpan.Zero));
        Assert.NotEqual(new RedisStoreOptions().NodeId, new RedisStoreOptions().NodeId);
    }

    [Fact]
    public async Task Connecting_to_nothing_fails_with_unavailable()
    {
        var options = new RedisStoreOptions { Configuration = $"127.0.0.1:{FreePort()}", OperationTimeout = TimeSpan.FromSeconds(1) };
        await Assert.ThrowsAsync<RedisStoreUnavailableException>(() => RedisStreamStore.ConnectAsync(options));
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(10);
        }
    }
}
