using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Gateway.Dispatch.Engines.Redis;
using Gateway.Protocol;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests.Engines.Redis;

/// <summary>
/// The store while its redis-server is killed, restarted on the same port, or hung (SIGSTOP). This class has
/// its own server so the outages never disturb other tests.
/// </summary>
public sealed class RedisOutageTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(1);
    private readonly List<RedisStreamStore> _stores = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        // Leave the shared server running and responsive for the next test of this class.
        try
        {
            redis.Signal("CONT");
        }
        catch (InvalidOperationException)
        {
            await redis.StartAsync();
        }
    }

    private async Task<RedisStreamStore> NodeAsync(string nodeId)
    {
        var store = await RedisStreamStore.ConnectAsync(new RedisStoreOptions
        {
            Configuration = redis.Configuration,
            KeyPrefix = $"o{Guid.NewGuid():N}:",
            NodeId = nodeId,
            OperationTimeout = OperationTimeout,
        });
        _stores.Add(store);
        return store;
    }

    private static byte[] P(string text) => Encoding.UTF8.GetBytes(text);

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    [Fact]
    public async Task Restart_signals_loss_and_restore_and_the_live_feed_resumes_without_resubscribing()
    {
        var subscriberOptions = new RedisStoreOptions { Configuration = redis.Configuration, KeyPrefix = "restart:", NodeId = "sub", OperationTimeout = OperationTimeout };
        var subscriber = await RedisStreamStore.ConnectAsync(subscriberOptions);
        _stores.Add(subscriber);
        var publisher = await RedisStreamStore.ConnectAsync(new RedisStoreOptions { Configuration = redis.Configuration, KeyPrefix = "restart:", NodeId = "pub", OperationTimeout = OperationTimeout });
        _stores.Add(publisher);

        var received = new ConcurrentQueue<RemoteMessage>();
        subscriber.MessageHandler = m => received.Enqueue(m with { Payload = m.Payload.ToArray(), NodeIdUtf8 = m.NodeIdUtf8.ToArray() });
        var lost = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var restored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var publisherRestored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        subscriber.ConnectionLost += (_, _) => lost.TrySetResult();
        subscriber.ConnectionRestored += (_, _) => restored.TrySetResult();
        publisher.ConnectionRestored += (_, _) => publisherRestored.TrySetResult();

        await subscriber.SubscribeAsync("workflow:w1");
        var before = await publisher.AppendAsync("workflow:w1", TopicKind.Workflow, Priority.Normal, Now(), P("before"));
        await WaitUntilAsync(() => received.Count == 1);

        redis.Stop();
        await lost.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(subscriber.IsConnected);

        // While Redis is down every call fails fast with the store's own exception type.
        await WaitUntilAsync(() => !publisher.IsConnected);
        var clock = Stopwatch.StartNew();
        var down = await Assert.ThrowsAsync<RedisStoreUnavailableException>(
            () => publisher.AppendAsync("workflow:w1", TopicKind.Workflow, Priority.Normal, Now(), P("while down")));
        Assert.False(down.OutcomeUnknown);
        await Assert.ThrowsAsync<RedisStoreUnavailableException>(() => publisher.ReadRangeAsync("workflow:w1", before, 10, 1000));
        await Assert.ThrowsAsync<RedisStoreUnavailableException>(() => subscriber.SubscribeAsync("other"));
        Assert.True(clock.Elapsed < OperationTimeout, $"failing took {clock.Elapsed}");

        await redis.StartAsync();
        await restored.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await publisherRestored.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(subscriber.IsConnected);
        Assert.Equal(1, subscriber.SubscribedTopicCount);

        // The restarted Redis lost everything (no persistence): a new epoch, and the live feed works again
        // without any SubscribeAsync by the test.
        var after = await publisher.AppendAsync("workflow:w1", TopicKind.Workflow, Priority.High, Now(), P("after"));
        Assert.NotEqual(before.Epoch, after.Epoch);
        Assert.Equal(1ul, after.Offset);
        await WaitUntilAsync(() => received.Count == 2);
        var last = received.Last();
        Assert.Equal(after, new StreamPosition(last.Epoch, last.Offset));
        Assert.Equal("after", Encoding.UTF8.GetString(last.Payload.Span));
        Assert.Equal("pub", last.NodeId);
        Assert.Equal(RangeReadStatus.Gone, (await subscriber.ReadRangeAsync("workflow:w1", before, 10, 1000)).Status);
        Assert.Equal("after", Encoding.UTF8.GetString((await subscriber.GetRetainedAsync("workflow:w1"))!.Value.Message.Payload.Span));
    }

    [Fact]
    public async Task Append_to_a_hung_redis_fails_within_the_operation_timeout()
    {
        var store = await NodeAsync("a");
        await store.AppendAsync("hung", TopicKind.Plain, Priority.Normal, Now(), P("ok"));

        redis.Signal("STOP");
        var clock = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<RedisStoreUnavailableException>(
            () => store.AppendAsync("hung", TopicKind.Plain, Priority.Normal, Now(), P("lost?")));
        clock.Stop();
        redis.Signal("CONT");

        // The command was sent: whether it was applied is unknown to the caller.
        Assert.True(error.OutcomeUnknown);
        Assert.True(clock.Elapsed < OperationTimeout + TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");

        // Once Redis answers again the store works (after restoring itself if the client dropped the connection).
        await WaitUntilAsync(() => store.IsConnected, TimeSpan.FromSeconds(30));
        var next = await RetryAsync(() => store.AppendAsync("hung", TopicKind.Plain, Priority.Normal, Now(), P("later")));
        Assert.True(next.Offset >= 2);
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> action)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                return await action();
            }
            catch (RedisStoreUnavailableException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan? patience = null)
    {
        var deadline = DateTime.UtcNow + (patience ?? TimeSpan.FromSeconds(10));
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(10);
        }
    }
}
