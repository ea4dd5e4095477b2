using StackExchange.Redis;

namespace Gateway.Dispatch.Engines.Redis;

/// <summary>
/// Which nodes share this Redis, and a short summary of each: every node publishes its summary every few
/// seconds (<see cref="PublishAsync"/>) and any node lists them all (<see cref="ReadAsync"/>), so one node can
/// show the whole cluster. Keys, in one hash tag so a Redis Cluster keeps them in one slot:
/// <c>{prefix}{nodes}:node:{id}</c> (the summary, expiring after the entry TTL) and <c>{prefix}{nodes}:index</c>
/// (a sorted set of node ids scored by last publish time in Unix ms). A node that stops publishing (killed,
/// frozen, cut off from Redis) keeps its index entry with an expired summary, so readers show it as stale
/// since its last publish, until <see cref="ForgetAfter"/> has passed; a node that stops cleanly removes itself.
/// Thread-safe. Works while the store is restoring its subscriptions: it needs only a live connection.
/// </summary>
public sealed class NodeDirectory
{
    /// <summary>Most nodes one read returns.</summary>
    public const int MaxReadNodes = 10_000;

    // One round trip, atomic: the summary, its index entry, and the pruning of long-gone nodes.
    private const string PublishScript = """
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[5])
        redis.call('PEXPIRE', KEYS[2], ARGV[6])
        return 1
        """;

    private readonly IDatabase _database;
    private readonly TimeProvider _time;
    private readonly string _nodePrefix;
    private readonly RedisKey _index;

    /// <summary>Creates the directory on <paramref name="store"/>'s connection and key prefix.</summary>
    /// <param name="store">The node's Redis store.</param>
    /// <param name="entryTtl">How long a published summary lives; publish at least every third of it.</param>
    /// <param name="forgetAfter">How long a node that stopped publishing stays listed as stale (at least <paramref name="entryTtl"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A duration is not positive, or <paramref name="forgetAfter"/> is shorter than <paramref name="entryTtl"/>.</exception>
    public NodeDirectory(RedisStreamStore store, TimeSpan entryTtl, TimeSpan forgetAfter)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfLessThan(entryTtl, TimeSpan.FromMilliseconds(1));
        ArgumentOutOfRangeException.ThrowIfLessThan(forgetAfter, entryTtl);
        _database = store.Database;
        _time = store.Time;
        _nodePrefix = store.KeyPrefix + "{nodes}:node:";
        _index = store.KeyPrefix + "{nodes}:index";
        EntryTtl = entryTtl;
        ForgetAfter = forgetAfter;
    }

    /// <summary>How long a published summary lives.</summary>
    public TimeSpan EntryTtl { get; }

    /// <summary>How long a node that stopped publishing stays listed (as stale) after its last publish.</summary>
    public TimeSpan ForgetAfter { get; }

    /// <summary>Publishes (replaces) the summary of node <paramref name="nodeId"/>, valid for <see cref="EntryTtl"/>.</summary>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable or did not answer in time.</exception>
    public async Task PublishAsync(string nodeId, string summary)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeId);
        ArgumentNullException.ThrowIfNull(summary);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var forgetMs = (long)ForgetAfter.TotalMilliseconds;
        try
        {
            await _database.ScriptEvaluateAsync(
                PublishScript,
                [NodeKey(nodeId), _index],
                [summary, (long)EntryTtl.TotalMilliseconds, now, nodeId, now - forgetMs, forgetMs]).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisStreamStore.TryTranslate(ex, out var translated))
        {
            throw translated;
        }
    }

    /// <summary>Removes node <paramref name="nodeId"/> (a clean stop: the node leaves the list at once).</summary>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable or did not answer in time.</exception>
    public async Task RemoveAsync(string nodeId)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeId);
        try
        {
            var delete = _database.KeyDeleteAsync(NodeKey(nodeId));
            var unlist = _database.SortedSetRemoveAsync(_index, nodeId);
            await Task.WhenAll(delete, unlist).ConfigureAwait(false);
        }
        catch (Exception ex) when (RedisStreamStore.TryTranslate(ex, out var translated))
        {
            throw translated;
        }
    }

    /// <summary>
    /// Lists up to <paramref name="maxNodes"/> nodes, most recently seen first, each with its summary (null when
    /// expired) and last publish time. Nodes last seen more than <see cref="ForgetAfter"/> ago are left out.
    /// Two round trips whatever the number of nodes.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNodes"/> is not in 1..<see cref="MaxReadNodes"/>.</exception>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable or did not answer in time.</exception>
    public async Task<NodeDirectoryRead> ReadAsync(int maxNodes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxNodes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxNodes, MaxReadNodes);
        var oldest = _time.GetUtcNow().ToUnixTimeMilliseconds() - (long)ForgetAfter.TotalMilliseconds;
        try
        {
            // Both commands are written before the first await: one round trip on the pipelined connection.
            var countTask = _database.SortedSetLengthAsync(_index, oldest, double.PositiveInfinity);
            var idsTask = _database.SortedSetRangeByScoreWithScoresAsync(_index, oldest, double.PositiveInfinity, Exclude.None, Order.Descending, 0, maxNodes);
            var total = await countTask.ConfigureAwait(false);
            var ids = await idsTask.ConfigureAwait(false);
            if (ids.Length == 0)
            {
                return new NodeDirectoryRead([], total);
            }

            var keys = new RedisKey[ids.Length];
            for (var i = 0; i < ids.Length; i++)
            {
                keys[i] = NodeKey(ids[i].Element!);
            }

            var summaries = await _database.StringGetAsync(keys).ConfigureAwait(false);
            var nodes = new NodeDirectoryEntry[ids.Length];
            for (var i = 0; i < ids.Length; i++)
            {
                nodes[i] = new NodeDirectoryEntry(
                    ids[i].Element!,
                    DateTimeOffset.FromUnixTimeMilliseconds((long)ids[i].Score),
                    summaries[i].IsNull ? null : (string?)summaries[i]);
            }

            return new NodeDirectoryRead(nodes, Math.Max(total, nodes.Length));
        }
        catch (Exception ex) when (RedisStreamStore.TryTranslate(ex, out var translated))
        {
            throw translated;
        }
    }

    private RedisKey NodeKey(string nodeId) => string.Concat(_nodePrefix, nodeId);
}
