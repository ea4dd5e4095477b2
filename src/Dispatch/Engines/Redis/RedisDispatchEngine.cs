using Gateway.Protocol;
using Gateway.Protocol.Frames;
using Microsoft.Extensions.Logging;

namespace Gateway.Dispatch.Engines.Redis;

/// <summary>
/// The scale-out engine on Redis: topic streams (epoch, offsets, history, retained state, pending
/// notifications) live in Redis through <see cref="RedisStreamStore"/>; the dispatcher appends before dispatch
/// and fans out by the positions Redis assigned (<see cref="IRemoteStreams"/>). Messages of other nodes
/// arrive on the topics' live channels and enter local fan-out through <see cref="IDispatchEngineSink.DeliverRemote"/>;
/// this node's own are delivered from their append's answer, never twice. See docs/scale-out.md.
/// </summary>
public sealed class RedisDispatchEngine : IDispatchEngine, IRemoteStreams
{
    private readonly RedisStreamStore _store;
    private readonly RedisStoreOptions _options;
    private readonly TimeProvider _time;
    private IDispatchEngineSink? _sink;
    private long _unreachableSinceMs;

    private RedisDispatchEngine(RedisStreamStore store, RedisStoreOptions options)
    {
        _store = store;
        _options = options;
        _time = options.TimeProvider;
        _store.ConnectionLost += (_, _) => Interlocked.CompareExchange(ref _unreachableSinceMs, _time.GetUtcNow().ToUnixTimeMilliseconds(), 0);
        _store.ConnectionRestored += (_, _) =>
        {
            Interlocked.Exchange(ref _unreachableSinceMs, 0);
            _sink?.OnEngineRestored();
        };
    }

    /// <summary>Connects to Redis (see <see cref="RedisStreamStore.ConnectAsync"/>).</summary>
    public static async Task<RedisDispatchEngine> ConnectAsync(RedisStoreOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var store = await RedisStreamStore.ConnectAsync(options, loggerFactory).ConfigureAwait(false);
        return new RedisDispatchEngine(store, options);
    }

    /// <inheritdoc />
    public string Name => "redis";

    /// <summary>This process's node id in Redis records (unique per process).</summary>
    public string NodeId => _store.NodeId;

    /// <summary>The underlying store (shared idempotency keys use it too).</summary>
    public RedisStreamStore Store => _store;

    /// <inheritdoc />
    public bool IsAvailable => _store.IsConnected;

    /// <inheritdoc />
    public string State
    {
        get
        {
            if (_store.IsConnected)
            {
                return _store.UsesShardedChannels ? "connected (sharded pub/sub)" : "connected";
            }

            var since = Volatile.Read(ref _unreachableSinceMs);
            return since == 0
                ? "unreachable"
                : $"unreachable since {DateTimeOffset.FromUnixTimeMilliseconds(since).UtcDateTime:yyyy-MM-ddTHH:mm:ss}Z";
        }
    }

    /// <inheritdoc />
    public IRemoteStreams? Remote => this;

    /// <inheritdoc />
    /// <remarks>The dispatcher keeps its own cache for remote engines; this returns such a cache for other callers.</remarks>
    public ITopicStream CreateStream(string topic, TopicKind kind) =>
        new InMemoryTopicStream(topic, kind, 0, _options.History, 0, _options.PendingTtl, _time);

    /// <inheritdoc />
    public void Attach(IDispatchEngineSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        _sink = sink;
        _store.MessageHandler = OnMessage;
    }

    /// <inheritdoc />
    public Task<StreamPosition> AppendAsync(string topic, TopicKind kind, Priority priority, long timestampMs, ReadOnlyMemory<byte> payload) =>
        _store.AppendAsync(topic, kind, priority, timestampMs, payload);

    /// <inheritdoc />
    public Task<StreamPosition> GetPositionAsync(string topic) => _store.GetPositionAsync(topic);

    /// <inheritdoc />
    public async Task<RemotePage> ReadHistoryAsync(string topic, StreamPosition after, int maxMessages, long maxBytes)
    {
        var read = await _store.ReadRangeAsync(topic, after, Math.Max(1, maxMessages), Math.Max(1, maxBytes)).ConfigureAwait(false);
        var status = read.Status switch
        {
            RangeReadStatus.Ok => HistoryReadStatus.More,
            RangeReadStatus.End => HistoryReadStatus.End,
            _ => HistoryReadStatus.Gone,
        };
        return new RemotePage(status, read.Current.Epoch, Convert(read.Current.Epoch, read.Messages));
    }

    /// <inheritdoc />
    public async Task<RemotePage> ReadPendingAsync(string userTopic, ulong afterOffset, int maxMessages)
    {
        var read = await _store.ReadPendingAsync(userTopic, afterOffset, Math.Max(1, maxMessages)).ConfigureAwait(false);
        var status = read.Messages.Count < maxMessages ? HistoryReadStatus.End : HistoryReadStatus.More;
        return new RemotePage(status, read.Epoch, Convert(read.Epoch, read.Messages));
    }

    /// <inheritdoc />
    public Task<bool> AcknowledgeAsync(string userTopic, ulong offset) => _store.AcknowledgeAsync(userTopic, offset);

    /// <inheritdoc />
    public async Task<RemoteMessageData?> GetRetainedAsync(string workflowTopic)
    {
        var retained = await _store.GetRetainedAsync(workflowTopic).ConfigureAwait(false);
        if (retained is not { } r)
        {
            return null;
        }

        return new RemoteMessageData(new StreamPosition(r.Epoch, r.Message.Offset), r.Message.Priority, r.Message.TimestampMs, r.Message.Payload);
    }

    /// <inheritdoc />
    public Task SetInterestAsync(string topic, bool interested) =>
        interested ? _store.SubscribeAsync(topic) : _store.UnsubscribeAsync(topic);

    /// <inheritdoc />
    public void Dispose() => _store.DisposeAsync().AsTask().GetAwaiter().GetResult();

    private void OnMessage(RemoteMessage message)
    {
        if (message.IsFrom(_store.NodeIdUtf8.Span))
        {
            return; // this node's own publish: delivered from its append's answer
        }

        _sink?.DeliverRemote(message.Topic, new StreamPosition(message.Epoch, message.Offset), message.TimestampMs, message.Priority, message.Payload.Span);
    }

    private static RemoteMessageData[] Convert(ulong epoch, IReadOnlyList<StoredMessage> messages)
    {
        var result = new RemoteMessageData[messages.Count];
        for (var i = 0; i < result.Length; i++)
        {
            var m = messages[i];
            result[i] = new RemoteMessageData(new StreamPosition(epoch, m.Offset), m.Priority, m.TimestampMs, m.Payload);
        }

        return result;
    }
}
