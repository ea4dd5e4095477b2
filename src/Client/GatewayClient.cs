using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using Gateway.Client.Internal;
using Gateway.Client.Transport;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Protocol.Topics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Client;

/// <summary>
/// A connection to the ArchMesh gateway that survives failures: it reconnects with jittered backoff
/// across its endpoints, honours GoAway, resubscribes every subscription from its last position and
/// reports whether the gap could be recovered. Thread-safe.
/// </summary>
/// <example>
/// <code>
/// await using var client = await GatewayClient.ConnectAsync(GatewayClientOptions.For("ws://localhost:5080/ws", token));
/// await using var sub = await client.SubscribeAsync("workflow:7f3a");
/// await foreach (var message in sub) { Console.WriteLine(message.GetString()); }
/// </code>
/// </example>
public sealed class GatewayClient : IAsyncDisposable
{
    private const int AckMemory = 4096;

    private readonly GatewayClientOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<string, GatewaySubscription> _subscriptions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<uint, PendingRequest> _pending = new();
    private readonly CancellationTokenSource _disposeCts = new();
    private readonly HashSet<(string Topic, ulong Offset)> _acked = [];
    private readonly Queue<(string Topic, ulong Offset)> _ackedOrder = new();
    [SuppressMessage("Usage", "CA2213", Justification = "A subscription's DisposeAsync unsubscribes over the network; on client disposal every subscription is completed locally instead (DisposeAsync).")]
    private readonly GatewaySubscription _broadcasts;
    private readonly Random _random;
    private readonly Lock _randomLock = new();
    private ClientConnection? _connection;
    private TaskCompletionSource<ClientConnection> _connectedSignal = NewSignal();
    [SuppressMessage("Usage", "CA2213", Justification = "Completed locally on client disposal, like every subscription (see _broadcasts).")]
    private GatewaySubscription? _notifications;
    private ConnectionState _state = ConnectionState.Connecting;
    private Exception? _terminalError;
    private int _nextCorrelation;
    private int _endpointIndex;
    private DateTimeOffset? _tokenExpiry;
    private Task _supervisor = Task.CompletedTask;
    private Task _refreshLoop = Task.CompletedTask;
    private int _disposed;

    private GatewayClient(GatewayClientOptions options)
    {
        _options = options;
        _logger = options.LoggerFactory?.CreateLogger<GatewayClient>() ?? NullLogger<GatewayClient>.Instance;
        _random = options.Reconnect.Random ?? Random.Shared;
        _broadcasts = new GatewaySubscription(this, TopicRules.Broadcast, options.SubscriptionCapacity, automatic: true, recoverFrom: null);
        if (options.ReceiveBroadcasts)
        {
            _subscriptions[TopicRules.Broadcast] = _broadcasts;
        }
    }

    /// <summary>Raised on every change of <see cref="State"/> (on a background thread; keep handlers short).</summary>
    public event EventHandler<ConnectionStateChangedEventArgs>? StateChanged;

    /// <summary>Raised when the gateway accepted a refreshed token (automatic or <see cref="RefreshTokenAsync"/>).</summary>
    public event EventHandler<TokenRefreshedEventArgs>? TokenRefreshed;

    /// <summary>The connection state.</summary>
    public ConnectionState State
    {
        get
        {
            lock (_lock)
            {
                return _state;
            }
        }
    }

    /// <summary>What the gateway reported for the current (or last) connection.</summary>
    public ConnectionInfo? Connection { get; private set; }

    /// <summary>
    /// The authenticated user's notifications (<c>user:{id}</c>), subscribed by the gateway itself.
    /// Pending notifications are redelivered after every connect until acked with <see cref="AckAsync(GatewayMessage, CancellationToken)"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The token has no user, or <see cref="GatewayClientOptions.ReceiveNotifications"/> is false.</exception>
    public GatewaySubscription Notifications => _notifications ?? throw new InvalidOperationException(
        _options.ReceiveNotifications ? "This connection has no user id (publisher token)." : "GatewayClientOptions.ReceiveNotifications is false.");

    /// <summary>Messages of the <c>broadcast</c> topic (received without subscribing; not recovered after a reconnect).</summary>
    /// <exception cref="InvalidOperationException"><see cref="GatewayClientOptions.ReceiveBroadcasts"/> is false.</exception>
    public GatewaySubscription Broadcasts => _options.ReceiveBroadcasts ? _broadcasts : throw new InvalidOperationException("GatewayClientOptions.ReceiveBroadcasts is false.");

    /// <summary>Connects to the first endpoint that accepts (trying each in order) and authenticates.</summary>
    /// <exception cref="GatewayException">The gateway refused (for example <see cref="ErrorCode.Unauthorized"/>), or no endpoint was reachable (<see cref="GatewayConnectionException"/>).</exception>
    public static async Task<GatewayClient> ConnectAsync(GatewayClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var client = new GatewayClient(options);
        try
        {
            await client.StartAsync(cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Connects to one endpoint with a fixed token.</summary>
    public static Task<GatewayClient> ConnectAsync(string url, string token, CancellationToken cancellationToken = default) =>
        ConnectAsync(GatewayClientOptions.For(url, token), cancellationToken);

    /// <summary>
    /// Subscribes to a topic. Completes once the gateway confirmed; messages (first the retained state
    /// for <c>workflow:</c> topics) are read by enumerating the returned subscription.
    /// </summary>
    /// <exception cref="GatewayException">Refused, for example <see cref="ErrorCode.Forbidden"/>.</exception>
    public Task<GatewaySubscription> SubscribeAsync(string topic, CancellationToken cancellationToken = default) =>
        SubscribeCoreAsync(topic, null, cancellationToken);

    /// <summary>
    /// Subscribes and recovers from a position persisted earlier (<see cref="GatewaySubscription.Position"/>):
    /// the missed messages are replayed, or a <see cref="GatewayMessageKind.RecoveryFailed"/> item says they cannot be.
    /// </summary>
    public Task<GatewaySubscription> SubscribeAsync(string topic, StreamPosition recoverFrom, CancellationToken cancellationToken = default) =>
        SubscribeCoreAsync(topic, recoverFrom, cancellationToken);

    /// <summary>Publishes and waits for the gateway's acknowledgement (the assigned epoch and offset).</summary>
    /// <exception cref="GatewayException">Refused (<see cref="GatewayException.IsRetryable"/> tells whether to retry). A <see cref="GatewayConnectionException"/> means the connection was lost before the answer: the outcome is unknown.</exception>
    /// <exception cref="TimeoutException">No answer within <see cref="GatewayClientOptions.RequestTimeout"/>.</exception>
    public async Task<PublishAck> PublishAsync(string topic, ReadOnlyMemory<byte> payload, Priority priority = Priority.Normal, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ValidateTopic(topic);
        var answer = await RequestAsync(
            FrameKind.Publish,
            conn =>
            {
                var size = FrameWriter.GetPublishSize(Encoding.UTF8.GetByteCount(topic), payload.Length) - ProtocolLimits.HeaderSize;
                if (conn.Info is { } info && size > info.MaxFrameLength)
                {
                    throw new GatewayException(ErrorCode.PayloadTooLarge, 0, $"The publish frame ({size} bytes) exceeds the gateway's maximum frame length {info.MaxFrameLength}.");
                }
            },
            (w, corr) => FrameWriter.WritePublish(w, corr, priority, topic, payload.Span),
            null,
            cancellationToken).ConfigureAwait(false);
        return new PublishAck(topic, answer.Epoch, answer.Offset);
    }

    /// <summary>Publishes a UTF-8 string payload and waits for the acknowledgement.</summary>
    public Task<PublishAck> PublishAsync(string topic, string payload, Priority priority = Priority.Normal, CancellationToken cancellationToken = default) =>
        PublishAsync(topic, Encoding.UTF8.GetBytes(payload), priority, cancellationToken);

    /// <summary>
    /// Acknowledges a notification so it is not redelivered. Fire-and-forget at the protocol level;
    /// an ack that cannot be sent now (disconnected) is sent again when the notification is redelivered.
    /// </summary>
    public ValueTask AckAsync(GatewayMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        return AckAsync(message.Topic, message.Offset, cancellationToken);
    }

    /// <summary>Acknowledges the notification at <paramref name="offset"/> of <paramref name="topic"/>.</summary>
    public ValueTask AckAsync(string topic, ulong offset, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ClientConnection? connection;
        lock (_lock)
        {
            if (_acked.Add((topic, offset)))
            {
                _ackedOrder.Enqueue((topic, offset));
                if (_ackedOrder.Count > AckMemory)
                {
                    _acked.Remove(_ackedOrder.Dequeue());
                }
            }

            connection = _connection;
        }

        connection?.Writer.TryWrite((topic, offset), static (w, s) => FrameWriter.WriteAck(w, s.topic, s.offset));
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Replaces the connection's token with a fresh one from <see cref="GatewayClientOptions.TokenProvider"/>
    /// (done automatically before expiry). Returns the new expiry reported by the gateway.
    /// </summary>
    public async Task<DateTimeOffset> RefreshTokenAsync(CancellationToken cancellationToken = default)
    {
        var token = await GetTokenAsync(cancellationToken).ConfigureAwait(false);
        var answer = await RequestAsync(FrameKind.Refresh, null, (w, corr) => FrameWriter.WriteRefresh(w, corr, token), null, cancellationToken).ConfigureAwait(false);
        var expiry = DateTimeOffset.FromUnixTimeSeconds(answer.Value);
        lock (_lock)
        {
            _tokenExpiry = expiry;
        }

        Raise(TokenRefreshed, this, new TokenRefreshedEventArgs(expiry));
        return expiry;
    }

    /// <summary>Round trip of a Ping to the gateway.</summary>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposeCts.Token);
        cts.CancelAfter(_options.RequestTimeout);
        try
        {
            var connection = await WaitForConnectionAsync(cts.Token).ConfigureAwait(false);
            return await connection.PingAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw Interrupted();
        }
    }

    /// <summary>Closes the connection and ends every subscription's enumeration.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _disposeCts.CancelAsync().ConfigureAwait(false);
        ClientConnection? connection;
        lock (_lock)
        {
            connection = _connection;
            _connection = null;
            _connectedSignal.TrySetException(new ObjectDisposedException(nameof(GatewayClient)));
            _ = _connectedSignal.Task.Exception;
        }

        if (connection is not null)
        {
            await connection.CloseAsync("disposed").ConfigureAwait(false);
        }

        try
        {
            await Task.WhenAll(_supervisor, _refreshLoop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Expected on dispose.
        }

        if (connection is not null)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var request in _pending.Values)
        {
            request.Answer.TrySetException(new ObjectDisposedException(nameof(GatewayClient)));
        }

        _pending.Clear();
        foreach (var subscription in _subscriptions.Values)
        {
            subscription.Complete(_terminalError);
        }

        _broadcasts.Complete(_terminalError);
        SetState(ConnectionState.Disconnected, "disposed", _terminalError, connection?.Endpoint);
        _disposeCts.Dispose();
    }

    internal void Raise<T>(EventHandler<T>? handler, object sender, T args)
    {
        if (handler is null)
        {
            return;
        }

        try
        {
            handler(sender, args);
        }
        catch (Exception ex)
        {
            // An application handler must not take the receive loop down.
            ClientLog.EventHandlerFailed(_logger, ex);
        }
    }

    internal async Task UnsubscribeAsync(GatewaySubscription subscription, CancellationToken cancellationToken)
    {
        if (subscription.IsDisposed)
        {
            return;
        }

        _subscriptions.TryRemove(new KeyValuePair<string, GatewaySubscription>(subscription.Topic, subscription));
        subscription.Complete(null);
        if (subscription.IsAutomatic || Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        ClientConnection? connection;
        lock (_lock)
        {
            connection = _connection;
        }

        if (connection is null)
        {
            // Not connected: the next connection simply does not resubscribe it.
            return;
        }

        try
        {
            await RequestAsync(FrameKind.Unsubscribe, null, (w, corr) => FrameWriter.WriteUnsubscribe(w, corr, subscription.Topic), connection, cancellationToken).ConfigureAwait(false);
        }
        catch (GatewayException ex) when (ex.Code == ErrorCode.NotSubscribed || ex is GatewayConnectionException)
        {
            // Already gone on the server side.
        }
    }

    private static TaskCompletionSource<ClientConnection> NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static void ValidateTopic(string topic)
    {
        try
        {
            FrameWriter.EncodeTopic(topic, stackalloc byte[ProtocolLimits.MaxTopicBytes]);
        }
        catch (ProtocolException ex)
        {
            throw new GatewayException(ex.Code, 0, $"Invalid topic '{topic}': {ex.Message}");
        }
    }

    private async Task<GatewaySubscription> SubscribeCoreAsync(string topic, StreamPosition? recoverFrom, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ValidateTopic(topic);
        if (topic == TopicRules.Broadcast || (topic.StartsWith(TopicRules.UserPrefix, StringComparison.Ordinal) && topic == _notifications?.Topic))
        {
            throw new InvalidOperationException($"'{topic}' is subscribed automatically: use GatewayClient.{(topic == TopicRules.Broadcast ? nameof(Broadcasts) : nameof(Notifications))}.");
        }

        var subscription = new GatewaySubscription(this, topic, _options.SubscriptionCapacity, automatic: false, recoverFrom);
        lock (_lock)
        {
            if (!_subscriptions.TryAdd(topic, subscription))
            {
                throw new GatewayException(ErrorCode.AlreadySubscribed, 0, $"This client already has a subscription to '{topic}'.");
            }

            // Connected now: subscribe now. Otherwise the next connection subscribes it with the others.
            if (_connection is { } connection)
            {
                SendSubscribe(connection, subscription);
            }
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposeCts.Token);
        cts.CancelAfter(_options.RequestTimeout);
        try
        {
            await subscription.FirstSubscribed.WaitAsync(cts.Token).ConfigureAwait(false);
            return subscription;
        }
        catch (Exception ex)
        {
            _subscriptions.TryRemove(new KeyValuePair<string, GatewaySubscription>(topic, subscription));
            subscription.Complete(null);
            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw Interrupted();
            }

            throw;
        }
    }

    // Called under _lock, so that a subscription is sent exactly once per connection.
    private void SendSubscribe(ClientConnection connection, GatewaySubscription subscription)
    {
        var corr = NextCorrelation();
        _pending[corr] = new PendingRequest(FrameKind.Subscribe, connection, subscription);
        var from = subscription.BeginSubscribe(corr);
        if (!connection.Writer.TryWrite((corr, subscription.Topic, from), static (w, s) => FrameWriter.WriteSubscribe(w, s.corr, s.Topic, s.from)))
        {
            // The connection is closing; the next one resubscribes.
            _pending.TryRemove(corr, out _);
        }
    }

    private uint NextCorrelation()
    {
        while (true)
        {
            var value = (uint)Interlocked.Increment(ref _nextCorrelation);
            if (value != 0)
            {
                return value;
            }
        }
    }

    /// <summary>Sends one request on the current connection (waiting for one if needed) and awaits its answer.</summary>
    private async Task<InboundFrame> RequestAsync(FrameKind kind, Action<ClientConnection>? check, Action<System.Buffers.IBufferWriter<byte>, uint> encode, ClientConnection? only, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposeCts.Token);
        cts.CancelAfter(_options.RequestTimeout);
        try
        {
            while (true)
            {
                var connection = only ?? await WaitForConnectionAsync(cts.Token).ConfigureAwait(false);
                check?.Invoke(connection);
                await connection.Writer.WaitForSpaceAsync(cts.Token).ConfigureAwait(false);
                var corr = NextCorrelation();
                var request = new PendingRequest(kind, connection);
                _pending[corr] = request;
                bool sent;
                try
                {
                    sent = connection.Writer.TryWrite((corr, encode), static (w, s) => s.encode(w, s.corr));
                }
                catch (ProtocolException ex)
                {
                    _pending.TryRemove(corr, out _);
                    throw new GatewayException(ex.Code, 0, ex.Message);
                }

                if (!sent)
                {
                    // Nothing went out, so waiting for the next connection cannot duplicate the request.
                    _pending.TryRemove(corr, out _);
                    if (only is not null)
                    {
                        throw new GatewayConnectionException("The connection is closed.");
                    }

                    await Task.Delay(10, cts.Token).ConfigureAwait(false);
                    continue;
                }

                try
                {
                    return await request.Answer.Task.WaitAsync(cts.Token).ConfigureAwait(false);
                }
                finally
                {
                    _pending.TryRemove(corr, out _);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw Interrupted();
        }
    }

    private Exception Interrupted() => Volatile.Read(ref _disposed) != 0
        ? new ObjectDisposedException(nameof(GatewayClient))
        : _terminalError is { } terminal ? new GatewayConnectionException("The client stopped reconnecting.", terminal)
        : new TimeoutException($"No answer from the gateway within {_options.RequestTimeout.TotalSeconds:F0} s (state {State}).");

    private async Task<ClientConnection> WaitForConnectionAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task<ClientConnection> signal;
            lock (_lock)
            {
                if (_connection is { IsGoingAway: false } connection)
                {
                    return connection;
                }

                if (_terminalError is { } terminal)
                {
                    throw new GatewayConnectionException("The client stopped reconnecting.", terminal);
                }

                signal = _connectedSignal.Task;
            }

            await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    [SuppressMessage("Reliability", "CA2000", Justification = "The connection is handed to OnConnected/SuperviseAsync, which own and dispose it.")]
    private async Task StartAsync(CancellationToken cancellationToken)
    {
        SetState(ConnectionState.Connecting, "connecting", null, _options.Endpoints[0]);
        var round = 0;
        while (true)
        {
            Exception? last = null;
            for (var i = 0; i < _options.Endpoints.Count; i++)
            {
                var index = (_endpointIndex + i) % _options.Endpoints.Count;
                try
                {
                    var connection = await EstablishAsync(_options.Endpoints[index], cancellationToken).ConfigureAwait(false);
                    _endpointIndex = index;
                    OnConnected(connection, "connected");
                    _supervisor = SuperviseAsync(connection);
                    if (_options.TokenProvider is not null)
                    {
                        _refreshLoop = RefreshLoopAsync(_disposeCts.Token);
                    }

                    return;
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    last = ex;
                    ClientLog.ConnectFailed(_logger, _options.Endpoints[index], ex.Message);
                    if (IsPermanent(ex))
                    {
                        throw;
                    }
                }
            }

            round++;
            if (!_options.RetryOnInitialConnect || (_options.Reconnect.MaxAttempts >= 0 && round > _options.Reconnect.MaxAttempts))
            {
                throw last is GatewayException ? last : new GatewayConnectionException($"No gateway endpoint accepted the connection: {last?.Message}", last);
            }

            await Task.Delay(Draw((policy, random) => policy.GetDelay(round - 1, random)), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Whether retrying cannot help: a refused token without a provider to get another, or an unsupported version.</summary>
    private bool IsPermanent(Exception error) => error is GatewayException { Code: not ErrorCode.None } gateway
        && (gateway.Code == ErrorCode.UnsupportedVersion
            || (_options.TokenProvider is null && gateway.Code is ErrorCode.Unauthorized or ErrorCode.TokenExpired));

    [SuppressMessage("Reliability", "CA2000", Justification = "On success the connection (owning the transport) goes to the caller; on failure both are disposed in the catch below.")]
    private async Task<ClientConnection> EstablishAsync(Uri endpoint, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposeCts.Token);
        cts.CancelAfter(_options.ConnectTimeout);
        IClientTransport? transport = null;
        ClientConnection? connection = null;
        try
        {
            var token = await GetTokenAsync(cts.Token).ConfigureAwait(false);
            transport = endpoint.Scheme is "tcp" or "tcps"
                ? await TcpClientTransport.ConnectAsync(endpoint, _options.ConfigureTls, cts.Token).ConfigureAwait(false)
                : await WebSocketClientTransport.ConnectAsync(endpoint, _options.ConfigureWebSocket, cts.Token).ConfigureAwait(false);
            connection = new ClientConnection(transport, _options, _logger, OnFrameAsync);
            await connection.HandshakeAsync(token, cts.Token).ConfigureAwait(false);
            lock (_lock)
            {
                _tokenExpiry = JwtExpiry.Read(token);
            }

            return connection;
        }
        catch (Exception ex)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
            else if (transport is not null)
            {
                await transport.DisposeAsync().ConfigureAwait(false);
            }

            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested && !_disposeCts.IsCancellationRequested)
            {
                throw new GatewayConnectionException($"Connecting to {endpoint} timed out after {_options.ConnectTimeout.TotalSeconds:F0} s.", ex);
            }

            if (ex is GatewayException or OperationCanceledException)
            {
                throw;
            }

            throw new GatewayConnectionException($"Connecting to {endpoint} failed: {ex.Message}", ex);
        }
    }

    private async ValueTask<string> GetTokenAsync(CancellationToken cancellationToken) =>
        _options.TokenProvider is { } provider ? await provider(cancellationToken).ConfigureAwait(false) : _options.Token!;

    private void OnConnected(ClientConnection connection, string reason)
    {
        var info = connection.Info!;
        lock (_lock)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                // Disposed while this connection was being established: the supervisor sees it end and stops.
                connection.Abort("disposed", null);
                return;
            }

            Connection = info;
            EnsureNotifications(info);

            foreach (var subscription in _subscriptions.Values)
            {
                if (!subscription.IsAutomatic && !subscription.IsDisposed)
                {
                    SendSubscribe(connection, subscription);
                }
            }

            _connection = connection;
            _connectedSignal.TrySetResult(connection);
        }

        ClientLog.Connected(_logger, connection.Endpoint, info.NodeId, info.ConnectionId, info.UserId);
        SetState(ConnectionState.Connected, reason, null, connection.Endpoint);
    }

    // Called under _lock.
    private GatewaySubscription? EnsureNotifications(ConnectionInfo info)
    {
        if (_options.ReceiveNotifications && info.UserId.Length > 0 && _notifications is null)
        {
            _notifications = new GatewaySubscription(this, TopicRules.UserPrefix + info.UserId, _options.SubscriptionCapacity, automatic: true, recoverFrom: null);
            _subscriptions[_notifications.Topic] = _notifications;
        }

        return _notifications is { IsDisposed: false } notifications && notifications.Topic == TopicRules.UserPrefix + info.UserId ? notifications : null;
    }

    private async Task SuperviseAsync(ClientConnection connection)
    {
        await Task.Yield();
        var connectedAt = Environment.TickCount64;

        // Consecutive connections that ended before they were stable: a node that accepts and drops again
        // and again is backed off from instead of being reconnected to within the first-reconnect window.
        var shortLivedDrops = 0;
        while (true)
        {
            var lost = await connection.Completion.ConfigureAwait(false);
            var lostAt = DateTimeOffset.UtcNow;
            shortLivedDrops = Environment.TickCount64 - connectedAt >= (long)ReconnectPolicy.StableAfter.TotalMilliseconds ? 1 : shortLivedDrops + 1;
            lock (_lock)
            {
                if (_connection == connection)
                {
                    _connection = null;
                }

                if (_connectedSignal.Task.IsCompleted)
                {
                    _connectedSignal = NewSignal();
                }
            }

            FailPending(connection, lost);
            await connection.DisposeAsync().ConfigureAwait(false);
            if (_disposeCts.IsCancellationRequested)
            {
                return;
            }

            ClientLog.ConnectionLost(_logger, connection.Endpoint, lost.Reason);
            if (lost.Error is not null && IsPermanent(lost.Error))
            {
                GiveUp(lost.Error, lost.Reason, connection.Endpoint);
                return;
            }

            var next = await ReconnectAsync(lost, connection.Endpoint, lostAt, shortLivedDrops).ConfigureAwait(false);
            if (next is null)
            {
                return;
            }

            connection = next;
            connectedAt = Environment.TickCount64;
            OnConnected(connection, "reconnected");
        }
    }

    private async Task<ClientConnection?> ReconnectAsync(DisconnectInfo lost, Uri lostEndpoint, DateTimeOffset lostAt, int shortLivedDrops)
    {
        // Start with the endpoint after the one that failed (GoAway means "go elsewhere"; a dead node is
        // tried last). Behind a load balancer there is one endpoint: the balancer picks a live node.
        var start = (_endpointIndex + 1) % _options.Endpoints.Count;
        Exception? last = lost.Error;

        // The first attempt is spread so that a dead node's clients do not come back as one burst: a GoAway
        // waits what is left of the gateway's (already spread) hint, a drop a draw from the window.
        var firstDelay = lost.GoAway
            ? Draw((policy, random) => policy.GetGoAwayDelay(lost.GoAwayHint, lost.ReconnectNotBefore - DateTimeOffset.UtcNow, shortLivedDrops, random))
            : Draw((policy, random) => policy.GetFirstDelay(shortLivedDrops, random));
        SetState(ConnectionState.Reconnecting, lost.Reason, lost.Error, lostEndpoint, firstDelay, lostAt);
        for (var round = 0; _options.Reconnect.MaxAttempts < 0 || round < _options.Reconnect.MaxAttempts; round++)
        {
            TimeSpan delay;
            if (round == 0)
            {
                delay = firstDelay;
            }
            else
            {
                delay = Draw((policy, random) => policy.GetDelay(round - 1, random));
                SetState(ConnectionState.Reconnecting, "retrying: " + last?.Message, last, null, delay, DateTimeOffset.UtcNow);
            }

            try
            {
                await Task.Delay(delay, _disposeCts.Token).ConfigureAwait(false);
                for (var i = 0; i < _options.Endpoints.Count; i++)
                {
                    var index = (start + i) % _options.Endpoints.Count;
                    try
                    {
                        var connection = await EstablishAsync(_options.Endpoints[index], _disposeCts.Token).ConfigureAwait(false);
                        _endpointIndex = index;
                        return connection;
                    }
                    catch (Exception ex) when (!_disposeCts.IsCancellationRequested)
                    {
                        last = ex;
                        ClientLog.ReconnectFailed(_logger, _options.Endpoints[index], ex.Message);
                        if (IsPermanent(ex))
                        {
                            GiveUp(ex, "reconnect refused", _options.Endpoints[index]);
                            return null;
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (_disposeCts.IsCancellationRequested)
            {
                return null;
            }
        }

        GiveUp(new GatewayConnectionException($"Gave up reconnecting after {_options.Reconnect.MaxAttempts} rounds: {last?.Message}", last), "reconnect attempts exhausted", null);
        return null;
    }

    private void GiveUp(Exception error, string reason, Uri? endpoint)
    {
        lock (_lock)
        {
            _terminalError = error;
            _connectedSignal.TrySetException(error);
            _ = _connectedSignal.Task.Exception;
        }

        foreach (var subscription in _subscriptions.Values)
        {
            subscription.Complete(error);
        }

        _broadcasts.Complete(error);
        SetState(ConnectionState.Disconnected, reason, error, endpoint);
    }

    private void FailPending(ClientConnection connection, DisconnectInfo lost)
    {
        foreach (var (corr, request) in _pending)
        {
            if (request.Connection != connection || !_pending.TryRemove(corr, out _))
            {
                continue;
            }

            // Subscriptions are resubscribed on the next connection; other requests have an unknown outcome.
            if (request.Request != FrameKind.Subscribe)
            {
                request.Answer.TrySetException(new GatewayConnectionException($"The connection was lost before the gateway answered ({lost.Reason}); the outcome is unknown.", lost.Error));
            }
        }
    }

    private async ValueTask OnFrameAsync(ClientConnection connection, InboundFrame frame)
    {
        var token = _disposeCts.Token;
        switch (frame.Kind)
        {
            case FrameKind.Message:
                {
                    if (!_subscriptions.TryGetValue(frame.Topic, out var subscription))
                    {
                        // Pending notifications can follow Connected in the same read, before OnConnected ran.
                        lock (_lock)
                        {
                            subscription = connection.Info is { } info && frame.Topic == TopicRules.UserPrefix + info.UserId ? EnsureNotifications(info) : null;
                        }

                        if (subscription is null)
                        {
                            // Unsubscribed meanwhile, or an automatic topic this client does not read.
                            return;
                        }
                    }

                    var result = await subscription.DeliverAsync(frame, token).ConfigureAwait(false);
                    if (result == DeliveryResult.RepairGap)
                    {
                        // Messages were shed for this connection: resubscribe with recovery from the last
                        // delivered position (off the receive loop: it waits for Unsubscribed).
                        _ = RepairAsync(connection, subscription);
                        return;
                    }

                    if (result == DeliveryResult.Duplicate && (frame.Flags & FrameFlags.Replayed) != 0 && subscription == _notifications)
                    {
                        // A redelivered notification the application already has: if it was acked, the ack
                        // was lost with the old connection, so send it again.
                        bool acked;
                        lock (_lock)
                        {
                            acked = _acked.Contains((frame.Topic, frame.Offset));
                        }

                        if (acked)
                        {
                            connection.Writer.TryWrite((frame.Topic, frame.Offset), static (w, s) => FrameWriter.WriteAck(w, s.Topic, s.Offset));
                        }
                    }

                    return;
                }

            case FrameKind.Subscribed:
                if (_pending.TryRemove(frame.CorrelationId, out var subscribe) && subscribe.Subscription is { } target)
                {
                    await target.OnSubscribedAsync(frame, token).ConfigureAwait(false);
                }

                return;

            case FrameKind.Error when frame.CorrelationId != 0:
                {
                    var error = new GatewayException(frame.ErrorCode, frame.CorrelationId, frame.Text2);
                    if (frame.ErrorCode == ErrorCode.RecoveryIncomplete)
                    {
                        // Sent after Subscribed(Recovered) and part of the replay, with the correlation id of
                        // that (already answered) Subscribe: it belongs to the subscription, not to a request.
                        var incomplete = _subscriptions.Values.FirstOrDefault(s => s.AnsweredBy(frame.CorrelationId));
                        if (incomplete is not null)
                        {
                            ClientLog.RecoveryIncomplete(_logger, incomplete.Topic, error.Message);
                            await incomplete.OnRecoveryIncompleteAsync(frame.Text2, token).ConfigureAwait(false);
                        }
                        else
                        {
                            ClientLog.ErrorForUnknownSubscription(_logger, error.Message);
                        }

                        return;
                    }

                    if (_pending.TryRemove(frame.CorrelationId, out var failed))
                    {
                        if (failed.Subscription is { } refused)
                        {
                            _subscriptions.TryRemove(new KeyValuePair<string, GatewaySubscription>(refused.Topic, refused));
                            refused.OnSubscribeFailed(frame.CorrelationId, error);
                        }
                        else
                        {
                            failed.Answer.TrySetException(error);
                        }
                    }

                    return;
                }

            case FrameKind.Error:
                ClientLog.GatewayError(_logger, new GatewayException(frame.ErrorCode, 0, frame.Text2).Message);
                return;

            case FrameKind.GoAway:
                lock (_lock)
                {
                    // New requests wait for the next connection; this one keeps delivering what the node flushes.
                    if (_connection == connection && _connectedSignal.Task.IsCompleted)
                    {
                        _connectedSignal = NewSignal();
                    }
                }

                return;

            case FrameKind.PublishAck or FrameKind.Unsubscribed or FrameKind.Refreshed:
                if (_pending.TryGetValue(frame.CorrelationId, out var answered))
                {
                    answered.Answer.TrySetResult(frame);
                }

                return;

            default:
                ClientLog.IgnoringFrame(_logger, frame.Kind);
                return;
        }
    }

    /// <summary>Repairs a gap: Unsubscribe, then Subscribe with recovery from the subscription's last delivered position.</summary>
    private async Task RepairAsync(ClientConnection connection, GatewaySubscription subscription)
    {
        await Task.Yield();
        if (connection.IsGoingAway)
        {
            // The next connection resubscribes from the last delivered position anyway.
            return;
        }

        try
        {
            await RequestAsync(FrameKind.Unsubscribe, null, (w, corr) => FrameWriter.WriteUnsubscribe(w, corr, subscription.Topic), connection, _disposeCts.Token).ConfigureAwait(false);
        }
        catch (GatewayException ex) when (ex.Code == ErrorCode.NotSubscribed)
        {
            // Gone already: subscribe again all the same.
        }
        catch (Exception ex) when (ex is GatewayException or TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection is lost (the next one resubscribes with recovery) or stuck: drop it so that
            // the subscription does not stay on hold.
            if (!_disposeCts.IsCancellationRequested && ex is not GatewayConnectionException)
            {
                connection.Abort("gap repair failed: " + ex.Message, ex);
            }

            return;
        }

        lock (_lock)
        {
            if (_connection == connection && !subscription.IsDisposed && _subscriptions.TryGetValue(subscription.Topic, out var current) && current == subscription)
            {
                SendSubscribe(connection, subscription);
            }
        }
    }

    private async Task RefreshLoopAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            DateTimeOffset? expiry;
            lock (_lock)
            {
                expiry = _tokenExpiry;
            }

            TimeSpan wait;
            if (expiry is null)
            {
                // Opaque token: nothing to schedule; check again later in case a new token has an expiry.
                wait = TimeSpan.FromMinutes(1);
            }
            else
            {
                var remaining = expiry.Value - DateTimeOffset.UtcNow;
                var lead = remaining > _options.RefreshBeforeExpiry * 2 ? _options.RefreshBeforeExpiry : remaining / 2;
                wait = remaining - lead;
            }

            if (failures > 0)
            {
                wait = Draw((policy, random) => policy.GetDelay(failures, random));
            }

            try
            {
                await Task.Delay(wait > TimeSpan.FromSeconds(1) ? wait : TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                if (expiry is null)
                {
                    continue;
                }

                lock (_lock)
                {
                    // A reconnect meanwhile brought a fresher token: recompute.
                    if (_tokenExpiry != expiry)
                    {
                        continue;
                    }
                }

                var next = await RefreshTokenAsync(cancellationToken).ConfigureAwait(false);
                failures = 0;
                ClientLog.TokenRefreshed(_logger, next);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is GatewayException or TimeoutException or ObjectDisposedException)
            {
                failures++;
                ClientLog.TokenRefreshFailed(_logger, ex.Message);
            }
        }
    }

    /// <summary>Draws a delay from the reconnect policy (an injected <see cref="Random"/> is not thread-safe: serialized).</summary>
    private TimeSpan Draw(Func<ReconnectPolicy, Random, TimeSpan> draw)
    {
        lock (_randomLock)
        {
            return draw(_options.Reconnect, _random);
        }
    }

    private void SetState(ConnectionState state, string reason, Exception? error, Uri? endpoint, TimeSpan? retryDelay = null, DateTimeOffset? timestamp = null)
    {
        ConnectionState previous;
        lock (_lock)
        {
            previous = _state;
            if (previous == ConnectionState.Disconnected || (previous == state && state != ConnectionState.Reconnecting))
            {
                return;
            }

            _state = state;
        }

        Raise(StateChanged, this, new ConnectionStateChangedEventArgs(previous, state, reason, error, endpoint, retryDelay, timestamp ?? DateTimeOffset.UtcNow));
    }
}
