using System.Diagnostics;
using Gateway.Dispatch.Engines.Redis;

namespace Gateway.Dispatch.Tests.Engines.Redis;

/// <summary>
/// The node directory against a real redis-server of its own (one test stops and restarts it); each test uses
/// its own key prefix. Two stores stand for two gateway nodes.
/// </summary>
public sealed class NodeDirectoryTests(RedisServer redis) : IClassFixture<RedisServer>, IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);
    private readonly string _prefix = $"nd{Guid.NewGuid():N}:";
    private readonly List<RedisStreamStore> _stores = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        try
        {
            _ = redis.Pid;
        }
        catch (InvalidOperationException)
        {
            await redis.StartAsync(); // leave the server running for the next test
        }
    }

    private async Task<NodeDirectory> DirectoryAsync(string nodeId, TimeSpan ttl, TimeSpan forgetAfter, string? prefix = null)
    {
        var store = await RedisStreamStore.ConnectAsync(new RedisStoreOptions
        {
            Configuration = redis.Configuration,
            KeyPrefix = prefix ?? _prefix,
            NodeId = nodeId,
            OperationTimeout = TimeSpan.FromSeconds(1),
        });
        _stores.Add(store);
        return new NodeDirectory(store, ttl, forgetAfter);
    }

    [Fact]
    public async Task Every_node_lists_every_node_with_its_latest_summary_most_recent_first()
    {
        var a = await DirectoryAsync("a", TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5));
        var b = await DirectoryAsync("b", TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5));
        var elsewhere = await DirectoryAsync("c", TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), prefix: _prefix + "other:");

        await a.PublishAsync("node-a/1", "{\"connections\":1}");
        await Task.Delay(20); // distinct last-seen times, so the order is defined
        await b.PublishAsync("node-b/2", "{\"connections\":2}");
        await elsewhere.PublishAsync("node-c/3", "{}");

        foreach (var reader in new[] { a, b })
        {
            var read = await reader.ReadAsync(256);
            Assert.Equal(["node-b/2", "node-a/1"], read.Nodes.Select(n => n.NodeId));
            Assert.Equal(["{\"connections\":2}", "{\"connections\":1}"], read.Nodes.Select(n => n.Summary));
            Assert.All(read.Nodes, n => Assert.True(n.IsLive));
            Assert.All(read.Nodes, n => Assert.InRange(DateTimeOffset.UtcNow - n.LastSeen, TimeSpan.Zero, TimeSpan.FromSeconds(30)));
            Assert.Equal(2, read.Total);
            Assert.False(read.Truncated);
        }

        // A new publish replaces the summary and moves the node to the front.
        await Task.Delay(20);
        await a.PublishAsync("node-a/1", "{\"connections\":7}");
        var again = await b.ReadAsync(256);
        Assert.Equal(["node-a/1", "node-b/2"], again.Nodes.Select(n => n.NodeId));
        Assert.Equal("{\"connections\":7}", again.Nodes[0].Summary);

        Assert.Equal(["node-c/3"], (await elsewhere.ReadAsync(256)).Nodes.Select(n => n.NodeId));
    }

    [Fact]
    public async Task A_node_that_stops_publishing_turns_stale_after_the_ttl_then_is_forgotten_and_a_clean_stop_removes_it_at_once()
    {
        var ttl = TimeSpan.FromMilliseconds(400);
        var forget = TimeSpan.FromSeconds(3);
        var dead = await DirectoryAsync("dead", ttl, forget);
        var alive = await DirectoryAsync("alive", ttl, forget);
        await dead.PublishAsync("dead/1", "{}");
        await alive.PublishAsync("alive/2", "{}");
        var publishedAt = (await alive.ReadAsync(10)).Nodes.Single(n => n.NodeId == "dead/1").LastSeen;

        // "alive" keeps publishing; "dead" does not: its summary expires, it stays listed with its last-seen time.
        var stale = await UntilAsync(async () =>
        {
            await alive.PublishAsync("alive/2", "{}");
            var read = await alive.ReadAsync(10);
            var node = read.Nodes.Single(n => n.NodeId == "dead/1");
            return node.IsLive ? null : read;
        });
        var deadNode = stale.Nodes.Single(n => n.NodeId == "dead/1");
        Assert.Null(deadNode.Summary);
        Assert.Equal(publishedAt, deadNode.LastSeen);
        Assert.True(stale.Nodes.Single(n => n.NodeId == "alive/2").IsLive);

        // After ForgetAfter it is no longer listed (pruned by the next publish of any node, and never read).
        await UntilAsync(async () =>
        {
            await alive.PublishAsync("alive/2", "{}");
            var read = await alive.ReadAsync(10);
            return read.Nodes.Any(n => n.NodeId == "dead/1") ? null : read;
        });

        // A clean stop leaves at once.
        await alive.RemoveAsync("alive/2");
        var empty = await dead.ReadAsync(10);
        Assert.Empty(empty.Nodes);
        Assert.Equal(0, empty.Total);
    }

    [Fact]
    public async Task A_read_returns_at_most_the_requested_number_of_nodes_and_says_how_many_exist()
    {
        var directory = await DirectoryAsync("n", TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5));
        for (var i = 0; i < 5; i++)
        {
            await directory.PublishAsync($"node-{i}", $"{{\"i\":{i}}}");
            await Task.Delay(5);
        }

        var read = await directory.ReadAsync(3);
        Assert.Equal(["node-4", "node-3", "node-2"], read.Nodes.Select(n => n.NodeId));
        Assert.Equal(5, read.Total);
        Assert.True(read.Truncated);
        Assert.Throws<ArgumentOutOfRangeException>(() => directory.ReadAsync(0).GetAwaiter().GetResult());
        Assert.Throws<ArgumentOutOfRangeException>(() => directory.ReadAsync(NodeDirectory.MaxReadNodes + 1).GetAwaiter().GetResult());
        Assert.Throws<ArgumentOutOfRangeException>(() => new NodeDirectory(_stores[0], TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NodeDirectory(_stores[0], TimeSpan.Zero, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task With_redis_down_publish_and_read_fail_as_unavailable_and_work_again_after_a_restart()
    {
        var directory = await DirectoryAsync("n", TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5));
        await directory.PublishAsync("node-x", "{}");

        redis.Stop();
        await Assert.ThrowsAsync<RedisStoreUnavailableException>(() => directory.ReadAsync(10));
        await Assert.ThrowsAsync<RedisStoreUnavailableException>(() => directory.PublishAsync("node-x", "{}"));
        await Assert.ThrowsAsync<RedisStoreUnavailableException>(() => directory.RemoveAsync("node-x"));

        // The restarted Redis lost every key (no persistence): the node reappears with its next publish.
        await redis.StartAsync();
        var read = await UntilAsync(async () =>
        {
            try
            {
                await directory.PublishAsync("node-x", "{\"back\":true}");
                return await directory.ReadAsync(10);
            }
            catch (RedisStoreUnavailableException)
            {
                return null;
            }
        });
        Assert.Equal("{\"back\":true}", Assert.Single(read.Nodes).Summary);
    }

    private static async Task<T> UntilAsync<T>(Func<Task<T?>> probe)
        where T : class
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            if (clock.Elapsed > Patience)
            {
                throw new TimeoutException("The condition did not hold in time.");
            }

            await Task.Delay(100);
        }
    }
}
