using Gateway.Protocol;
using Gateway.Protocol.Frames;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

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
    private readonly CircuitBreakerStateProvider _circuit = new();
    private readonly CircuitBreakerManualControl _circuitControl = new();
    private readonly ResiliencePipeline _writes;
    private readonly ResiliencePipeline _reads;
    private IDispatchEngineSink? _sink;
    private long _unreachableSinceMs;

    private RedisDispatchEngine(RedisStreamStore store, RedisStoreOptions options)
    {
        _store = store;
        _options = options;
        _time = options.TimeProvider;

        // One breaker for every call: when Redis keeps failing (or is frozen and every call times out), calls fail
        // fast for BreakDuration instead of each waiting for its timeout, and publishes are refused at once
        // (answered engine_unavailable without waiting). Writes are never retried here: an append whose outcome is unknown
        // must not be repeated blindly. Reads are idempotent and retried briefly.
        var breaker = new CircuitBreakerStrategyOptions
        {
            FailureRatio = 0.5,
            MinimumThroughput = 8,
            SamplingDuration = TimeSpan.FromSeconds(5),
            BreakDuration = TimeSpan.FromSeconds(5),
            ShouldHandle = new PredicateBuilder().Handle<RedisStoreUnavailableException>(),
            StateProvider = _circuit,
            ManualControl = _circuitControl,
        };
        _writes = new ResiliencePipelineBuilder { TimeProvider = _time }.AddCircuitBreaker(breaker).Build();
        _reads = new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = 2,
                Delay = TimeSpan.FromMilliseconds(100),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = new PredicateBuilder().Handle<RedisStoreUnavailableException>(),
            })
            .AddPipeline(_writes) // the same breaker instance: one circuit for all calls
            .Build();
        _store.ConnectionLost += (_, _) => Interlocked.CompareExchange(ref _unreachableSinceMs, _time.GetUtcNow().ToUnixTimeMilliseconds(), 0);
        _store.ConnectionRestored += (_, _) =>
        {
            Interlocked.Exchange(ref _unreachableSinceMs, 0);

            // The store has just proven Redis answers (scripts reloaded, subscriptions confirmed): a breaker opened
            // during the outage would otherwise refuse the catch-up reads and publishes for the rest of its break.
            _circuitControl.CloseAsync().GetAwaiter().GetResult();
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
    // Not the circuit: while it is open calls fail fast (engine_unavailable), and the next call after the break is the trial.
    public bool IsAvailable => _store.IsConnected;

    /// <inheritdoc />
    public EngineCircuitState Circuit => _circuit.CircuitState switch
    {
        CircuitState.Open or CircuitState.Isolated => EngineCircuitState.Open,
        CircuitState.HalfOpen => EngineCircuitState.HalfOpen,
        _ => EngineCircuitState.Closed,
    };

    /// <inheritdoc />
    public string State
    {
        get
        {
            if (_store.IsConnected)
            {
                var circuit = Circuit switch
                {
                    EngineCircuitState.Open => ", circuit open (recent calls failed)",
                    EngineCircuitState.HalfOpen => ", circuit half-open",
                    _ => "",
                };
                return (_store.UsesShardedChannels ? "connected (sharded pub/sub)" : "connected") + circuit;
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
        Guard(_writes, static (s, a) => s.AppendAsync(a.topic, a.kind, a.priority, a.timestampMs, a.payload), (topic, kind, priority, timestampMs, payload));

    /// <inheritdoc />
    public Task<StreamPosition> GetPositionAsync(string topic) => Guard(_reads, static (s, t) => s.GetPositionAsync(t), topic);

    /// <inheritdoc />
    public async Task<RemotePage> ReadHistoryAsync(string topic, StreamPosition after, int maxMessages, long maxBytes)
    {
        var read = await Guard(_reads, static (s, a) => s.ReadRangeAsync(a.topic, a.after, a.maxMessages, a.maxBytes), (topic, after, maxMessages: Math.Max(1, maxMessages), maxBytes: Math.Max(1, maxBytes))).ConfigureAwait(false);
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
        var read = await Guard(_reads, static (s, a) => s.ReadPendingAsync(a.userTopic, a.afterOffset, a.max), (userTopic, afterOffset, max: Math.Max(1, maxMessages))).ConfigureAwait(false);
        var status = read.Messages.Count < maxMessages ? HistoryReadStatus.End : HistoryReadStatus.More;
        return new RemotePage(status, read.Epoch, Convert(read.Epoch, read.Messages));
    }

    /// <inheritdoc />
    public Task<bool> AcknowledgeAsync(string userTopic, ulong offset) =>
        Guard(_reads, static (s, a) => s.AcknowledgeAsync(a.userTopic, a.offset), (userTopic, offset)); // idempotent: retried

    /// <inheritdoc />
    public async Task<RemoteMessageData?> GetRetainedAsync(string workflowTopic)
    {
        var retained = await Guard(_reads, static (s, t) => s.GetRetainedAsync(t), workflowTopic).ConfigureAwait(false);
        if (retained is not { } r)
        {
            return null;
        }

        return new RemoteMessageData(new StreamPosition(r.Epoch, r.Message.Offset), r.Message.Priority, r.Message.TimestampMs, r.Message.Payload);
    }

    /// <inheritdoc />
    public Task SetInterestAsync(string topic, bool interested) =>
        interested
            ? Guard(_reads, static async (s, t) => { await s.SubscribeAsync(t).ConfigureAwait(false); return true; }, topic)
            : _store.UnsubscribeAsync(topic);

    /// <inheritdoc />
    public void Dispose() => _store.DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Runs a store call through a pipeline; an open circuit surfaces as the store's own "unavailable" exception.</summary>
    private async Task<TResult> Guard<TState, TResult>(ResiliencePipeline pipeline, Func<RedisStreamStore, TState, Task<TResult>> call, TState state)
    {
        try
        {
            return await pipeline.ExecuteAsync(
                static async (s, _) => await s.call(s.store, s.state).ConfigureAwait(false),
                (call, store: _store, state),
                CancellationToken.None).ConfigureAwait(false);
        }
        catch (BrokenCircuitException ex)
        {
            throw new RedisStoreUnavailableException("The Redis circuit is open after repeated failures; retry later.", outcomeUnknown: false, ex);
        }
    }

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
