using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Gateway.Protocol;
using Gateway.Protocol.Frames;
using Gateway.Protocol.Topics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using StreamPosition = Gateway.Protocol.StreamPosition;

namespace Gateway.Dispatch.Engines.Redis;

/// <summary>
/// The Redis storage layer of the scale-out engine: one epoch and one offset sequence per topic shared by
/// every node, bounded history in a Redis stream, retained workflow state, pending user notifications,
/// shared idempotency keys, and a live feed per topic over (sharded) pub/sub. Every data operation is one
/// Lua script, i.e. one round trip, atomic on the server. Thread-safe; calls issued back-to-back from one
/// thread reach Redis (and get offsets) in issue order, because each call writes its command before it
/// first awaits and the connection is a single ordered pipe. Layout and rationale: docs/scale-out.md.
/// </summary>
/// <remarks>
/// Connection loss: operations fail fast with <see cref="RedisStoreUnavailableException"/> from the first
/// failure until the store has restored itself (scripts reloaded, every live subscription re-established and
/// confirmed by Redis); then <see cref="ConnectionRestored"/> fires and the caller catches up from history.
/// </remarks>
public sealed class RedisStreamStore : IAsyncDisposable
{
    private const int MaxCachedTopicKeys = 65_536;
    private static readonly TimeSpan RestoreRetryInterval = TimeSpan.FromMilliseconds(500);
    private static readonly RedisValue KindPlain = "p";
    private static readonly RedisValue KindUser = "u";
    private static readonly RedisValue KindWorkflow = "w";

    private readonly ConnectionMultiplexer _redis;
    private readonly IDatabase _database;
    private readonly ISubscriber _subscriber;
    private readonly RedisStoreOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly byte[] _nodeIdUtf8;
    private readonly RedisValue _publishMode;
    private readonly long _maxAgeMs;
    private readonly long _pendingTtlMs;
    private readonly RedisValue _maxMessages;
    private readonly RedisValue _maxBytes;
    private readonly RedisValue _maxPending;
    private readonly RedisValue _streamTtlMs;
    private readonly RedisValue _pendingKeyTtlMs;
    private readonly RedisValue _retainedTtlMs;
    private readonly RedisValue _metaTtlPlainMs;
    private readonly RedisValue _metaTtlUserMs;
    private readonly RedisValue _metaTtlWorkflowMs;

    // Key names are built once per topic; bounded by clearing (a miss only re-creates the names).
    private readonly ConcurrentDictionary<string, TopicKeys> _keys = new(StringComparer.Ordinal);
    private int _cachedKeyCount;

    // Live subscriptions by topic; guarded by _subscriptionGate (subscribe, unsubscribe and restore serialize).
    private readonly Dictionary<string, ChannelMessageQueue> _subscriptions = new(StringComparer.Ordinal);
    [SuppressMessage("Usage", "CA2213", Justification = "Never disposed: subscribe/restore calls racing disposal would fault with ObjectDisposedException; a SemaphoreSlim whose AvailableWaitHandle is never read holds no OS resource.")]
    private readonly SemaphoreSlim _subscriptionGate = new(1, 1);

    [SuppressMessage("Usage", "CA2213", Justification = "Released by disposal itself to end the restore loop, which may still be waiting on it; holds no OS resource (AvailableWaitHandle never read).")]
    private readonly SemaphoreSlim _restoreSignal = new(0);
    private Action<RemoteMessage>? _messageHandler;
    private int _available;
    private long _failureGeneration;
    private int _restoreLoopRunning;
    private int _disposed;

    private RedisStreamStore(ConnectionMultiplexer redis, RedisStoreOptions options, ILogger logger, bool sharded)
    {
        _redis = redis;
        _database = redis.GetDatabase();
        _subscriber = redis.GetSubscriber();
        _options = options;
        _logger = logger;
        _time = options.TimeProvider;
        NodeId = options.NodeId;
        _nodeIdUtf8 = Encoding.UTF8.GetBytes(options.NodeId);
        UsesShardedChannels = sharded;
        _publishMode = sharded ? "1" : "0";

        var history = options.History;
        _maxAgeMs = (long)history.MaxAge.TotalMilliseconds;
        _pendingTtlMs = (long)options.PendingTtl.TotalMilliseconds;
        _maxMessages = history.MaxMessages;
        _maxBytes = history.MaxBytes;
        _maxPending = options.MaxPendingPerUser;
        _streamTtlMs = _maxAgeMs;
        _pendingKeyTtlMs = _pendingTtlMs;
        var retainedTtlMs = (long)options.RetainedTtl.TotalMilliseconds;
        _retainedTtlMs = retainedTtlMs;

        // The epoch/offset counter outlives everything else of its topic, so data never outlives its epoch.
        var idleMs = (long)options.TopicIdleTtl.TotalMilliseconds;
        _metaTtlPlainMs = Math.Max(idleMs, _maxAgeMs);
        _metaTtlUserMs = Math.Max(idleMs, Math.Max(_maxAgeMs, _pendingTtlMs));
        _metaTtlWorkflowMs = Math.Max(idleMs, Math.Max(_maxAgeMs, retainedTtlMs));
    }

    /// <summary>This node's id as written into every live record.</summary>
    public string NodeId { get; }

    /// <summary>The store's key prefix (<see cref="RedisStoreOptions.KeyPrefix"/>), shared with <see cref="NodeDirectory"/>.</summary>
    internal string KeyPrefix => _options.KeyPrefix;

    /// <summary>The store's clock.</summary>
    internal TimeProvider Time => _time;

    /// <summary>The store's connection, for <see cref="NodeDirectory"/> (which must work while the store restores itself).</summary>
    internal IDatabase Database => _database;

    /// <summary>This node's id in UTF-8, for allocation-free comparison with <see cref="RemoteMessage.IsFrom"/>.</summary>
    public ReadOnlyMemory<byte> NodeIdUtf8 => _nodeIdUtf8;

    /// <summary>True when live channels use sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7+); false: classic PUBLISH/SUBSCRIBE.</summary>
    public bool UsesShardedChannels { get; }

    /// <summary>
    /// True while Redis is reachable and the store is fully restored. False from the first connection failure
    /// until <see cref="ConnectionRestored"/>; operations then fail fast with <see cref="RedisStoreUnavailableException"/>.
    /// </summary>
    public bool IsConnected => Volatile.Read(ref _available) == 1;

    /// <summary>Number of topics with a live subscription.</summary>
    public int SubscribedTopicCount
    {
        get
        {
            lock (_subscriptions)
            {
                return _subscriptions.Count;
            }
        }
    }

    /// <summary>
    /// Receives every record of every subscribed topic, this node's own included. Called sequentially per topic
    /// (in the order Redis published, i.e. offset order), possibly concurrently across topics, on a
    /// StackExchange.Redis thread: keep it short and non-blocking. The message's memory is valid only during
    /// the call. Exceptions are logged and swallowed. Set it before subscribing.
    /// </summary>
    public Action<RemoteMessage>? MessageHandler
    {
        get => Volatile.Read(ref _messageHandler);
        set => Volatile.Write(ref _messageHandler, value);
    }

    /// <summary>Raised once when the connection to Redis fails (on a client thread; keep handlers short).</summary>
    public event EventHandler? ConnectionLost;

    /// <summary>
    /// Raised once when the connection is back and the store is usable again: scripts reloaded and every live
    /// subscription re-established and confirmed by Redis. Records published while the connection was down
    /// were not received: the caller catches up by reading each topic's history after its last offset.
    /// </summary>
    public event EventHandler? ConnectionRestored;

    /// <summary>
    /// Connects to Redis, checks the server (Redis 6.2+; sharded pub/sub when 7.0+) and loads the scripts.
    /// The first connection must succeed within <see cref="RedisStoreOptions.OperationTimeout"/>, else
    /// <see cref="RedisStoreUnavailableException"/>; later losses are recovered automatically.
    /// </summary>
    /// <exception cref="ArgumentException">An option is invalid (the message names it).</exception>
    /// <exception cref="RedisStoreUnavailableException">Redis could not be reached.</exception>
    /// <exception cref="NotSupportedException">The server is older than Redis 6.2.</exception>
    public static async Task<RedisStreamStore> ConnectAsync(RedisStoreOptions options, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ConfigurationOptions config;
        try
        {
            config = ConfigurationOptions.Parse(options.Configuration);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"Redis:Configuration is invalid: {ex.Message}", nameof(options), ex);
        }

        var timeoutMs = (int)options.OperationTimeout.TotalMilliseconds;
        config.AsyncTimeout = timeoutMs;
        config.SyncTimeout = timeoutMs;
        config.ConnectTimeout = timeoutMs;
        // The first connect must succeed: server features decide the channel kind.
        config.AbortOnConnectFail = true;
        // Never queue commands while disconnected: callers need a fast, clear failure, not a hidden backlog.
        config.BacklogPolicy = BacklogPolicy.FailFast;
        config.ReconnectRetryPolicy = new ExponentialRetry(250, 5000);
        // Channel names are computed by the scripts too; a client-side prefix would make them disagree.
        config.ChannelPrefix = default;
        if (loggerFactory is not null)
        {
            config.LoggerFactory = loggerFactory;
        }

        var endpoints = string.Join(",", config.EndPoints.Select(e => e.ToString()));
        ConnectionMultiplexer redis;
        try
        {
            redis = await ConnectionMultiplexer.ConnectAsync(config).ConfigureAwait(false);
        }
        catch (RedisConnectionException ex)
        {
            throw new RedisStoreUnavailableException($"Cannot connect to Redis at {endpoints}: {ex.FailureType}.", ex);
        }

        try
        {
            var servers = redis.GetServers().Where(s => s.IsConnected && !s.IsReplica).ToArray();
            if (servers.Length == 0)
            {
                throw new RedisStoreUnavailableException($"No writable Redis server at {endpoints}.");
            }

            var tooOld = servers.FirstOrDefault(s => s.Version < new Version(6, 2));
            if (tooOld is not null)
            {
                throw new NotSupportedException($"Redis {tooOld.Version} at {tooOld.EndPoint} is too old: the store needs 6.2 or later (XTRIM MINID, exclusive XRANGE).");
            }

            var sharded = servers.All(s => s.Features.ShardedPubSub);
            var logger = (ILogger?)loggerFactory?.CreateLogger<RedisStreamStore>() ?? NullLogger.Instance;
            var store = new RedisStreamStore(redis, options, logger, sharded);
            redis.ConnectionFailed += store.OnConnectionFailed;
            redis.ConnectionRestored += store.OnConnectionRestored;
            Volatile.Write(ref store._available, 1);
            await store.LoadScriptsAsync().ConfigureAwait(false);
            RedisStoreLog.Connected(logger, store.NodeId, endpoints, sharded ? "sharded (SPUBLISH)" : "classic (PUBLISH)");
            return store;
        }
        catch
        {
            await redis.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Appends a message to <paramref name="topic"/> in one round trip: creates the topic's epoch on first use,
    /// assigns the next offset, stores it in history (trimmed by the history bounds), keeps it as the retained
    /// message (workflow topics) or pending (user topics), and publishes it on the topic's live channel.
    /// </summary>
    /// <returns>The epoch and the assigned offset.</returns>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable or did not answer in time (see <see cref="RedisStoreUnavailableException.OutcomeUnknown"/>).</exception>
    public async Task<StreamPosition> AppendAsync(string topic, TopicKind kind, Priority priority, long timestampMs, ReadOnlyMemory<byte> payload)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ThrowIfUnusable();
        var keys = KeysOf(topic);
        var length = MessageRecord.BodyLength(_nodeIdUtf8.Length, payload.Length);
        var body = ArrayPool<byte>.Shared.Rent(length);
        MessageRecord.WriteBody(body, _nodeIdUtf8, priority, timestampMs, payload.Span);
        RedisValue[] args =
        [
            NewEpochCandidate(),
            timestampMs,
            timestampMs - _maxAgeMs,
            _maxMessages,
            _maxBytes,
            MetaTtlOf(kind),
            _streamTtlMs,
            kind switch { TopicKind.User => KindUser, TopicKind.Workflow => KindWorkflow, _ => KindPlain },
            _maxPending,
            timestampMs + _pendingTtlMs,
            kind == TopicKind.Workflow ? _retainedTtlMs : _pendingKeyTtlMs,
            new ReadOnlyMemory<byte>(body, 0, length),
            keys.ChannelName,
            _publishMode,
        ];

        // The command is written before this first await, which is what keeps pipelined appends in order.
        var result = await EvaluateAsync(RedisScripts.Append, keys.All, args).ConfigureAwait(false);

        // Returned only after a definite answer: a command that failed or timed out might still be queued for
        // writing, and must not see its body reused (the array is then left to the GC).
        ArrayPool<byte>.Shared.Return(body);
        return ReadPosition(result);
    }

    /// <summary>The topic's current epoch (created when the topic has none) and last offset (0 before any message).</summary>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable or did not answer in time.</exception>
    public async Task<StreamPosition> GetPositionAsync(string topic)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ThrowIfUnusable();
        var keys = KeysOf(topic);
        var result = await EvaluateAsync(RedisScripts.Position, keys.All, [NewEpochCandidate(), MetaTtlOf(KindOf(topic))]).ConfigureAwait(false);
        return ReadPosition(result);
    }

    /// <summary>
    /// Reads one page of history after <paramref name="after"/>: messages with offset &gt; after.Offset, in order and
    /// without gaps, at most <paramref name="maxMessages"/> and at most <paramref name="maxBytes"/> of stored records
    /// (but always at least one message when any is available, so paging progresses). Page on by calling again
    /// after the last returned offset until <see cref="RangeReadStatus.End"/>.
    /// <see cref="RangeReadStatus.Gone"/> (nothing returned) when the epoch differs, the position is in the future,
    /// or the message right after it left history.
    /// </summary>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable or did not answer in time.</exception>
    public async Task<RangeRead> ReadRangeAsync(string topic, StreamPosition after, int maxMessages, long maxBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxMessages);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        ThrowIfUnusable();
        var keys = KeysOf(topic);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var result = await EvaluateAsync(
            RedisScripts.ReadRange,
            keys.MetaAndStream,
            [after.Epoch, after.Offset, maxMessages, maxBytes, now - _maxAgeMs]).ConfigureAwait(false);

        var items = (RedisResult[])result!;
        var status = (RangeReadStatus)(int)items[0];
        var current = new StreamPosition(ParseEpoch(items[1]), (ulong)items[2]);
        if (items.Length == 3)
        {
            return new RangeRead(status, current, []);
        }

        var messages = new StoredMessage[items.Length - 3];
        for (var i = 0; i < messages.Length; i++)
        {
            var offset = after.Offset + (ulong)i + 1;
            if (!MessageRecord.TryReadStored((byte[])items[i + 3]!, offset, out messages[i]))
            {
                throw new InvalidDataException($"Malformed history record at offset {offset} of topic {topic}.");
            }
        }

        return new RangeRead(status, current, messages);
    }

    /// <summary>
    /// Reads up to <paramref name="max"/> pending (unacknowledged, unexpired) notifications of a user topic with
    /// offset &gt; <paramref name="afterOffset"/>, in offset order. Expired ones met on the way are dropped.
    /// </summary>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable or did not answer in time.</exception>
    public async Task<PendingRead> ReadPendingAsync(string userTopic, ulong afterOffset, int max)
    {
        ArgumentException.ThrowIfNullOrEmpty(userTopic);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(max);
        ThrowIfUnusable();
        var keys = KeysOf(userTopic);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var result = await EvaluateAsync(RedisScripts.ReadPending, keys.MetaAndPending, [afterOffset, max, now]).ConfigureAwait(false);
        var items = (RedisResult[])result!;
        var epoch = ParseEpoch(items[0]);
        var messages = new StoredMessage[items.Length - 1];
        for (var i = 0; i < messages.Length; i++)
        {
            ReadOnlyMemory<byte> member = (byte[])items[i + 1]!;
            if (!MessageRecord.TryReadTwoNumbers(member, out var offset, out _, out var body) ||
                !MessageRecord.TryReadStored(body, offset, out messages[i]))
            {
                throw new InvalidDataException($"Malformed pending record in topic {userTopic}.");
            }
        }

        return new PendingRead(epoch, messages);
    }

    /// <summary>Acknowledges the notification at <paramref name="offset"/> for every node; false when it was not pending (already acknowledged, expired, dropped or unknown).</summary>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable or did not answer in time.</exception>
    public async Task<bool> AcknowledgeAsync(string userTopic, ulong offset)
    {
        ArgumentException.ThrowIfNullOrEmpty(userTopic);
        ThrowIfUnusable();
        var keys = KeysOf(userTopic);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var result = await EvaluateAsync(RedisScripts.Acknowledge, keys.PendingOnly, [offset, now]).ConfigureAwait(false);
        return (int)result == 1;
    }

    /// <summary>The retained latest message of a workflow topic; null when there is none (never published, or expired).</summary>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable or did not answer in time.</exception>
    public async Task<RetainedMessage?> GetRetainedAsync(string workflowTopic)
    {
        ArgumentException.ThrowIfNullOrEmpty(workflowTopic);
        ThrowIfUnusable();
        var keys = KeysOf(workflowTopic);
        RedisValue value;
        try
        {
            value = await _database.StringGetAsync(keys.Retained).ConfigureAwait(false);
        }
        catch (Exception ex) when (TryTranslate(ex, out var translated))
        {
            throw translated;
        }

        if (value.IsNull)
        {
            return null;
        }

        if (!MessageRecord.TryReadTwoNumbers((byte[])value!, out var epoch, out var offset, out var body) ||
            !MessageRecord.TryReadStored(body, offset, out var message))
        {
            throw new InvalidDataException($"Malformed retained record in topic {workflowTopic}.");
        }

        return new RetainedMessage(epoch, message);
    }

    /// <summary>
    /// Takes idempotency key <paramref name="key"/> for a request with <paramref name="fingerprint"/> (e.g. a hash
    /// of topic and payload), shared by every node. <see cref="IdempotencyState.Started"/>: the caller holds the key
    /// for <paramref name="inFlightTtl"/> (so a crashed node's hold expires) and must publish, then
    /// <see cref="CompleteIdempotentAsync(string, ReadOnlyMemory{byte}, StreamPosition)"/> or <see cref="AbandonIdempotentAsync"/>. Otherwise the key is in flight
    /// elsewhere or completed, with the stored fingerprint (compare it: a mismatch is a conflict) and result.
    /// Callers scope <paramref name="key"/> (e.g. by publisher identity).
    /// </summary>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable or did not answer in time.</exception>
    public async Task<IdempotencyBegin> TryBeginIdempotentAsync(string key, ReadOnlyMemory<byte> fingerprint, TimeSpan inFlightTtl)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(inFlightTtl, TimeSpan.Zero);
        ThrowIfUnusable();
        var result = await EvaluateAsync(
            RedisScripts.IdempotencyBegin,
            [IdempotencyKey(key)],
            [MessageRecord.InFlightValue(fingerprint.Span), (long)inFlightTtl.TotalMilliseconds]).ConfigureAwait(false);
        return result.IsNull ? new IdempotencyBegin(IdempotencyState.Started, default, default) : ParseIdempotency(key, (byte[])result!);
    }

    /// <summary>
    /// The state of idempotency key <paramref name="key"/> without taking it: null when free, otherwise
    /// <see cref="IdempotencyState.InFlight"/> or <see cref="IdempotencyState.Completed"/> as in <see cref="TryBeginIdempotentAsync"/>.
    /// </summary>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable or did not answer in time.</exception>
    public async Task<IdempotencyBegin?> GetIdempotentAsync(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ThrowIfUnusable();
        RedisValue value;
        try
        {
            value = await _database.StringGetAsync(IdempotencyKey(key)).ConfigureAwait(false);
        }
        catch (Exception ex) when (TryTranslate(ex, out var translated))
        {
            throw translated;
        }

        return value.IsNull ? null : ParseIdempotency(key, (byte[])value!);
    }

    /// <summary>
    /// Records the result of the request holding <paramref name="key"/>, kept for <see cref="RedisStoreOptions.IdempotencyTtl"/>.
    /// False (nothing changed) when the key was already completed or is held by a request with another fingerprint;
    /// true otherwise (also when the in-flight hold had expired and nobody took the key since).
    /// </summary>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable or did not answer in time.</exception>
    public Task<bool> CompleteIdempotentAsync(string key, ReadOnlyMemory<byte> fingerprint, StreamPosition result) =>
        CompleteIdempotentAsync(key, fingerprint, result, fingerprint, _options.IdempotencyTtl);

    /// <summary>
    /// As <see cref="CompleteIdempotentAsync(string, ReadOnlyMemory{byte}, StreamPosition)"/>, but the completed key
    /// holds <paramref name="completedFingerprint"/> (what later callers get as <see cref="IdempotencyBegin.Fingerprint"/>,
    /// e.g. the fingerprint plus what they need to answer) and lives <paramref name="ttl"/>.
    /// </summary>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable or did not answer in time.</exception>
    public async Task<bool> CompleteIdempotentAsync(string key, ReadOnlyMemory<byte> fingerprint, StreamPosition result, ReadOnlyMemory<byte> completedFingerprint, TimeSpan ttl)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
        ThrowIfUnusable();
        var reply = await EvaluateAsync(
            RedisScripts.IdempotencyComplete,
            [IdempotencyKey(key)],
            [
                MessageRecord.CompletedValue(completedFingerprint.Span, result.Epoch, result.Offset),
                (long)ttl.TotalMilliseconds,
                MessageRecord.InFlightValue(fingerprint.Span),
            ]).ConfigureAwait(false);
        return (int)reply == 1;
    }

    /// <summary>Releases <paramref name="key"/> held by this request (the publish failed), so a retry can take it at once.</summary>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable or did not answer in time.</exception>
    public async Task<bool> AbandonIdempotentAsync(string key, ReadOnlyMemory<byte> fingerprint)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ThrowIfUnusable();
        var reply = await EvaluateAsync(RedisScripts.IdempotencyAbandon, [IdempotencyKey(key)], [MessageRecord.InFlightValue(fingerprint.Span)]).ConfigureAwait(false);
        return (int)reply == 1;
    }

    /// <summary>
    /// Starts receiving <paramref name="topic"/>'s live records through <see cref="MessageHandler"/> (call when the
    /// node gains its first local subscriber). Completes when Redis confirmed the subscription: every record
    /// published after that is delivered. No-op when already subscribed.
    /// </summary>
    /// <exception cref="RedisStoreUnavailableException">Redis is unreachable (retry after <see cref="ConnectionRestored"/>).</exception>
    public async Task SubscribeAsync(string topic)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ThrowIfUnusable();
        await _subscriptionGate.WaitAsync().ConfigureAwait(false);
        try
        {
            lock (_subscriptions)
            {
                if (_subscriptions.ContainsKey(topic))
                {
                    return;
                }
            }

            var queue = await SubscribeQueueAsync(topic).ConfigureAwait(false);
            lock (_subscriptions)
            {
                _subscriptions[topic] = queue;
            }
        }
        catch (Exception ex) when (TryTranslate(ex, out var translated))
        {
            throw translated;
        }
        finally
        {
            _subscriptionGate.Release();
        }
    }

    /// <summary>
    /// Stops receiving <paramref name="topic"/> (call when the node lost its last local subscriber). Never fails
    /// for connection reasons: a subscription on a lost connection is gone anyway and is not restored.
    /// </summary>
    public async Task UnsubscribeAsync(string topic)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        await _subscriptionGate.WaitAsync().ConfigureAwait(false);
        try
        {
            ChannelMessageQueue? queue;
            lock (_subscriptions)
            {
                if (!_subscriptions.Remove(topic, out queue))
                {
                    return;
                }
            }

            await UnsubscribeQuietlyAsync(queue).ConfigureAwait(false);
        }
        finally
        {
            _subscriptionGate.Release();
        }
    }

    /// <summary>Unsubscribes everything and closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Volatile.Write(ref _available, 0);
        _redis.ConnectionFailed -= OnConnectionFailed;
        _redis.ConnectionRestored -= OnConnectionRestored;
        _restoreSignal.Release();

        // Bounded: a restore stuck on a dying connection must not keep disposal waiting (closing ends it anyway).
        var gated = await _subscriptionGate.WaitAsync(_options.OperationTimeout * 2).ConfigureAwait(false);
        try
        {
            ChannelMessageQueue[] queues;
            lock (_subscriptions)
            {
                queues = [.. _subscriptions.Values];
                _subscriptions.Clear();
            }

            await Task.WhenAll(queues.Select(UnsubscribeQuietlyAsync)).WaitAsync(_options.OperationTimeout * 2).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Closing the connection below drops the subscriptions on the server anyway.
        }
        finally
        {
            if (gated)
            {
                _subscriptionGate.Release();
            }
        }

        await _redis.CloseAsync(allowCommandsToComplete: false).ConfigureAwait(false);
        await _redis.DisposeAsync().ConfigureAwait(false);
    }

    private async Task<ChannelMessageQueue> SubscribeQueueAsync(string topic)
    {
        var keys = KeysOf(topic);
        var channel = UsesShardedChannels ? RedisChannel.Sharded(keys.ChannelName) : RedisChannel.Literal(keys.ChannelName);
        var queue = await _subscriber.SubscribeAsync(channel).ConfigureAwait(false);

        // A queue's message loop is sequential: records of one topic reach the handler in publish order.
        queue.OnMessage(message => Deliver(topic, message.Message));
        return queue;
    }

    private static async Task UnsubscribeQuietlyAsync(ChannelMessageQueue queue)
    {
        try
        {
            await queue.UnsubscribeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // The connection is down: the server already forgot the subscription.
        }
    }

    private void Deliver(string topic, RedisValue value)
    {
        var handler = MessageHandler;
        if (handler is null)
        {
            return;
        }

        ReadOnlyMemory<byte> record = value;
        if (!MessageRecord.TryReadTwoNumbers(record, out var epoch, out var offset, out var body) ||
            !MessageRecord.TryReadBody(body, out var priority, out var timestamp, out var nodeId, out var payload))
        {
            RedisStoreLog.MalformedRecord(_logger, topic, record.Length);
            return;
        }

        try
        {
            handler(new RemoteMessage(topic, nodeId, epoch, offset, timestamp, priority, payload));
        }
        catch (Exception ex)
        {
            RedisStoreLog.HandlerFailed(_logger, ex, topic);
        }
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        Interlocked.Increment(ref _failureGeneration);
        if (Interlocked.Exchange(ref _available, 0) == 1)
        {
            RedisStoreLog.ConnectionLost(_logger, e.Exception, e.EndPoint?.ToString() ?? "?", e.ConnectionType.ToString(), e.FailureType.ToString());
            Raise(ConnectionLost);
        }

        StartRestoreLoop();
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        // Wake the restore loop now rather than at its next retry tick.
        _restoreSignal.Release();
    }

    private void StartRestoreLoop()
    {
        if (Volatile.Read(ref _disposed) == 0 && Interlocked.CompareExchange(ref _restoreLoopRunning, 1, 0) == 0)
        {
            _ = Task.Run(RestoreLoopAsync);
        }
    }

    /// <summary>
    /// Runs from the first failure until the store is restored: at every reconnect signal (or retry tick) it reloads
    /// the scripts and re-establishes every subscription, and declares the store available only when no failure
    /// happened meanwhile. Not relying on the client's own resubscription is deliberate: when Restored fires,
    /// every subscription is confirmed, so a catch-up read started then cannot miss a record.
    /// </summary>
    private async Task RestoreLoopAsync()
    {
        var lastError = "";
        while (true)
        {
            await _restoreSignal.WaitAsync(RestoreRetryInterval).ConfigureAwait(false);
            if (Volatile.Read(ref _disposed) == 0 && Volatile.Read(ref _available) == 0 && _redis.IsConnected)
            {
                var generation = Interlocked.Read(ref _failureGeneration);
                try
                {
                    var topics = await RestoreOnceAsync().ConfigureAwait(false);
                    if (Interlocked.Read(ref _failureGeneration) == generation && Volatile.Read(ref _disposed) == 0 &&
                        Interlocked.CompareExchange(ref _available, 1, 0) == 0)
                    {
                        RedisStoreLog.ConnectionRestored(_logger, topics);
                        Raise(ConnectionRestored);
                    }
                }
                catch (Exception ex)
                {
                    // Whatever failed, the loop must survive to retry at the next tick; each distinct failure is logged once.
                    if (ex.Message != lastError)
                    {
                        lastError = ex.Message;
                        RedisStoreLog.RestoreFailed(_logger, ex);
                    }
                }
            }

            if (Volatile.Read(ref _available) == 1 || Volatile.Read(ref _disposed) == 1)
            {
                Volatile.Write(ref _restoreLoopRunning, 0);

                // A failure may have slipped in between the check and the flag: then keep running.
                if (Volatile.Read(ref _available) == 0 && Volatile.Read(ref _disposed) == 0 &&
                    Interlocked.CompareExchange(ref _restoreLoopRunning, 1, 0) == 0)
                {
                    continue;
                }

                return;
            }
        }
    }

    private async Task<int> RestoreOnceAsync()
    {
        await LoadScriptsAsync().ConfigureAwait(false);
        await _subscriptionGate.WaitAsync().ConfigureAwait(false);
        try
        {
            KeyValuePair<string, ChannelMessageQueue>[] current;
            lock (_subscriptions)
            {
                current = [.. _subscriptions];
            }

            // Drop every handler first so the client really sends SSUBSCRIBE again (it skips channels it
            // believes are subscribed), then subscribe and wait for Redis to confirm each one.
            await Task.WhenAll(current.Select(pair => UnsubscribeQuietlyAsync(pair.Value))).ConfigureAwait(false);
            var queues = await Task.WhenAll(current.Select(pair => SubscribeQueueAsync(pair.Key))).ConfigureAwait(false);
            lock (_subscriptions)
            {
                for (var i = 0; i < current.Length; i++)
                {
                    _subscriptions[current[i].Key] = queues[i];
                }
            }

            return current.Length;
        }
        finally
        {
            _subscriptionGate.Release();
        }
    }

    private async Task LoadScriptsAsync()
    {
        // Loaded on every primary so calls go as EVALSHA (the script text travels once per connection, not per call).
        foreach (var server in _redis.GetServers())
        {
            if (server.IsConnected && !server.IsReplica)
            {
                foreach (var script in RedisScripts.All)
                {
                    await server.ScriptLoadAsync(script).ConfigureAwait(false);
                }
            }
        }
    }

    private void Raise(EventHandler? handler)
    {
        try
        {
            handler?.Invoke(this, EventArgs.Empty);
        }
        catch (Exception ex)
        {
            RedisStoreLog.HandlerFailed(_logger, ex, "(connection event)");
        }
    }

    private async Task<RedisResult> EvaluateAsync(string script, RedisKey[] keys, RedisValue[] args)
    {
        try
        {
            return await _database.ScriptEvaluateAsync(script, keys, args).ConfigureAwait(false);
        }
        catch (Exception ex) when (TryTranslate(ex, out var translated))
        {
            throw translated;
        }
    }

    /// <summary>Maps the client's connection and timeout failures to <see cref="RedisStoreUnavailableException"/>; other errors (script bugs) pass.</summary>
    internal static bool TryTranslate(Exception exception, out RedisStoreUnavailableException translated)
    {
        switch (exception)
        {
            case RedisTimeoutException timeout:
                translated = new RedisStoreUnavailableException($"Redis did not answer in time: {timeout.Message}", outcomeUnknown: true, timeout);
                return true;
            case RedisConnectionException connection:
                var maybeSent = connection.CommandStatus is CommandStatus.Sent or CommandStatus.Unknown;
                translated = new RedisStoreUnavailableException($"Redis connection failed ({connection.FailureType}).", maybeSent, connection);
                return true;
            default:
                translated = null!;
                return false;
        }
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Volatile.Read(ref _available) == 0)
        {
            throw new RedisStoreUnavailableException("Redis is unavailable: the connection is down or being restored.", outcomeUnknown: false, null);
        }
    }

    private TopicKeys KeysOf(string topic)
    {
        if (_keys.TryGetValue(topic, out var keys))
        {
            return keys;
        }

        if (Interlocked.Increment(ref _cachedKeyCount) > MaxCachedTopicKeys)
        {
            Volatile.Write(ref _cachedKeyCount, 0);
            _keys.Clear();
        }

        return _keys.GetOrAdd(topic, static (name, prefix) => new TopicKeys(prefix, name), _options.KeyPrefix);
    }

    private static IdempotencyBegin ParseIdempotency(string key, byte[] value)
    {
        if (value.Length >= 1 && value[0] == MessageRecord.IdempotencyInFlight)
        {
            return new IdempotencyBegin(IdempotencyState.InFlight, value.AsMemory(1), default);
        }

        if (value.Length >= 17 && value[0] == MessageRecord.IdempotencyCompleted)
        {
            var position = new StreamPosition(
                BinaryPrimitives.ReadUInt64LittleEndian(value.AsSpan(1)),
                BinaryPrimitives.ReadUInt64LittleEndian(value.AsSpan(9)));
            return new IdempotencyBegin(IdempotencyState.Completed, value.AsMemory(17), position);
        }

        throw new InvalidDataException($"Malformed idempotency record for key {key}.");
    }

    private RedisKey IdempotencyKey(string key) => string.Concat(_options.KeyPrefix, "idem:", key);

    private RedisValue MetaTtlOf(TopicKind kind) => kind switch
    {
        TopicKind.User => _metaTtlUserMs,
        TopicKind.Workflow => _metaTtlWorkflowMs,
        _ => _metaTtlPlainMs,
    };

    private static TopicKind KindOf(string topic)
    {
        if (topic.StartsWith(TopicRules.UserPrefix, StringComparison.Ordinal))
        {
            return TopicKind.User;
        }

        if (topic.StartsWith(TopicRules.WorkflowPrefix, StringComparison.Ordinal))
        {
            return TopicKind.Workflow;
        }

        return topic == TopicRules.Broadcast ? TopicKind.Broadcast : TopicKind.Plain;
    }

    /// <summary>A random non-zero 63-bit epoch, used only if the topic has none yet (SET NX semantics in the script).</summary>
    // 53 bits, like the in-memory engine: epochs travel as JSON numbers and JavaScript reads integers exactly up to 2^53.
    private static RedisValue NewEpochCandidate() => Random.Shared.NextInt64(1, 1L << 53);

    private static StreamPosition ReadPosition(RedisResult result)
    {
        var items = (RedisResult[])result!;
        return new StreamPosition(ParseEpoch(items[0]), (ulong)items[1]);
    }

    private static ulong ParseEpoch(RedisResult value) => ulong.Parse((string)value!, NumberStyles.None, CultureInfo.InvariantCulture);
}
