using System.Threading.Channels;
using Gateway.Client;

namespace Chaos;

/// <summary>
/// One application using the real SDK: user <c>c{index}</c>, subscribed to one topic <c>chaos.{k}</c> and to its
/// notifications (acked as they arrive). Records what reaches the application: which (publisher, seq) were
/// delivered (bitsets), replays, duplicates, recovery markers, and its outages (<see cref="Episode"/>).
/// The readers allocate nothing per message beyond what the SDK does.
/// </summary>
public sealed class ChaosClient
{
    private readonly Lock _lock = new();
    private readonly Ledger _ledger;
    private readonly ScenarioClock _clock;
    private readonly Bitset[] _received;
    private readonly List<Episode> _episodes = [];
    private Episode? _open;
    private bool _connected;
    private ulong _lastEpoch;
    private ulong _lastOffset;
    private bool _hasLast;
    private Task _topicReader = Task.CompletedTask;
    private Task _notifyReader = Task.CompletedTask;

    public ChaosClient(int index, int topic, Uri endpoint, Ledger ledger, ScenarioClock clock)
    {
        Index = index;
        Topic = topic;
        Endpoint = endpoint;
        _ledger = ledger;
        _clock = clock;
        _received = new Bitset[ledger.Publishers];
        for (var p = 0; p < _received.Length; p++)
        {
            _received[p] = new Bitset(256);
        }
    }

    public int Index { get; }

    public int Topic { get; }

    public Uri Endpoint { get; }

    public string User => "c" + Index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public GatewayClient? Client { get; private set; }

    public GatewaySubscription? Subscription { get; private set; }

    /// <summary>The node the client connected to first.</summary>
    public string? FirstNode { get; private set; }

    /// <summary>Set when the client could not be connected and subscribed before publishing started.</summary>
    public string? SetupError { get; private set; }

    /// <summary>Set when a subscription ended with an error (the SDK gave up).</summary>
    public string? ReaderError { get; private set; }

    /// <summary>Subscribe attempts repeated during setup (the connection dropped before Subscribed).</summary>
    public int SetupRetries { get; private set; }

    public long Delivered;
    public long Recovered;
    public long NotifyDelivered;
    public long NotifyRecovered;

    /// <summary>Same (epoch, offset) twice, or an offset not increasing, handed to the application: must be 0.</summary>
    public long DuplicatesToApp;

    /// <summary>The same (publisher, seq) delivered at two different offsets: the message was published twice.</summary>
    public long DuplicatePublishes;

    public long RecoveryFailedMarkers;
    public long RecoveryIncompleteMarkers;
    public long AfterGap;
    public long EpochChanges;
    public long Gaps;
    public long Stale;
    public long Misrouted;

    public bool IsConnected
    {
        get
        {
            lock (_lock)
            {
                return _connected;
            }
        }
    }

    /// <summary>Connected, and the topic subscription resubscribed after the last reconnect.</summary>
    public bool IsWhole
    {
        get
        {
            lock (_lock)
            {
                return _connected && _open is null && SetupError is null && ReaderError is null;
            }
        }
    }

    public Bitset Received(int publisher) => _received[publisher];

    public List<Episode> Episodes
    {
        get
        {
            lock (_lock)
            {
                return [.. _episodes];
            }
        }
    }

    /// <summary>Connects (retrying), subscribes to its topic and starts the readers.</summary>
    public async Task StartAsync(string token, TimeSpan heartbeat, int connectedDelta, Action<int> onConnectedChange, CancellationToken cancellationToken)
    {
        try
        {
            var options = new GatewayClientOptions
            {
                Endpoints = [Endpoint],
                Token = token,
                ClientName = "archmesh-chaos/1.0",
                RetryOnInitialConnect = true,
                ConnectTimeout = TimeSpan.FromSeconds(10),
                RequestTimeout = TimeSpan.FromSeconds(20),
                HeartbeatInterval = heartbeat > TimeSpan.Zero ? heartbeat : null,
                HeartbeatMissesAllowed = 2,
                ReceiveBroadcasts = false,
            };
            var client = await GatewayClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
            Client = client;
            FirstNode = client.Connection?.NodeId;
            lock (_lock)
            {
                _connected = client.State == ConnectionState.Connected;
            }

            if (_connected)
            {
                onConnectedChange(connectedDelta);
            }

            client.StateChanged += (_, e) => OnStateChanged(e, onConnectedChange);
            var notifications = client.Notifications;
            _notifyReader = ReadNotificationsAsync(client, notifications.Messages);
            var topic = "chaos." + Topic.ToString(System.Globalization.CultureInfo.InvariantCulture);
            GatewaySubscription subscription;
            while (true)
            {
                try
                {
                    subscription = await client.SubscribeAsync(topic, cancellationToken).ConfigureAwait(false);
                    break;
                }
                catch (Exception ex) when (ex is TimeoutException or GatewayConnectionException && SetupRetries < 3)
                {
                    // The connection dropped during setup (a loaded machine): the setup is not what is measured, so try again.
                    SetupRetries++;
                }
            }

            Subscription = subscription;
            subscription.Resubscribed += (_, e) => OnResubscribed(e);
            subscription.Discontinuity += (_, e) => OnDiscontinuity(e);
            _topicReader = ReadTopicAsync(subscription.Messages);
        }
        catch (Exception ex) when (ex is GatewayException or TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            SetupError = ex.Message;
        }
    }

    public async Task StopAsync()
    {
        if (Client is { } client)
        {
            try
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is GatewayException or ObjectDisposedException or OperationCanceledException)
            {
                // Disposal is best effort: the accounting is already complete.
            }
        }

        await Task.WhenAll(_topicReader, _notifyReader).ConfigureAwait(false);
    }

    private void OnStateChanged(ConnectionStateChangedEventArgs e, Action<int> onConnectedChange)
    {
        var now = _clock.NowMs;
        var delta = 0;
        lock (_lock)
        {
            if (e.Current == ConnectionState.Connected)
            {
                if (!_connected)
                {
                    _connected = true;
                    delta = 1;
                }

                if (_open is { } open && double.IsNaN(open.ConnectedMs))
                {
                    open.ConnectedMs = now;
                    CloseIfDone();
                }
            }
            else
            {
                if (_connected)
                {
                    _connected = false;
                    delta = -1;
                }

                if (e.Current == ConnectionState.Reconnecting && (_open is null || !double.IsNaN(_open.ConnectedMs)))
                {
                    // A new outage (or the reconnect did not last until the resubscribe): start a new episode.
                    _open = new Episode(now);
                    _episodes.Add(_open);
                }
            }
        }

        if (delta != 0)
        {
            onConnectedChange(delta);
        }
    }

    private void OnResubscribed(SubscriptionRecoveryEventArgs e)
    {
        var now = _clock.NowMs;
        lock (_lock)
        {
            // The Subscribed answer can arrive before StateChanged(Connected) ran: record either order.
            if (_open is { } open && double.IsNaN(open.ResubscribedMs))
            {
                open.ResubscribedMs = now;
                CloseIfDone();
            }
        }
    }

    // Called under _lock.
    private void CloseIfDone()
    {
        if (_open is { Closed: true })
        {
            _open = null;
        }
    }

    private void OnDiscontinuity(SubscriptionDiscontinuityEventArgs e)
    {
        if (e.Kind == SubscriptionDiscontinuityKind.Gap)
        {
            Interlocked.Increment(ref Gaps);
        }
    }

    private async Task ReadTopicAsync(ChannelReader<GatewayMessage> reader)
    {
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var m))
                {
                    OnTopicMessage(m);
                }
            }
        }
        catch (Exception ex) when (ex is GatewayException or ChannelClosedException or ObjectDisposedException)
        {
            ReaderError = ex.Message;
        }
    }

    private void OnTopicMessage(GatewayMessage m)
    {
        if (m.IsRecoveryMarker)
        {
            if (m.Kind == GatewayMessageKind.RecoveryFailed)
            {
                Interlocked.Increment(ref RecoveryFailedMarkers);

                // Positions restart from the topic's current one.
                _hasLast = false;
            }
            else
            {
                Interlocked.Increment(ref RecoveryIncompleteMarkers);
            }

            return;
        }

        var offsetDuplicate = false;
        if (_hasLast && m.Epoch == _lastEpoch && m.Offset <= _lastOffset)
        {
            offsetDuplicate = true;
            Interlocked.Increment(ref DuplicatesToApp);
        }
        else if (_hasLast && m.Epoch != _lastEpoch)
        {
            Interlocked.Increment(ref EpochChanges);
        }

        if (!offsetDuplicate)
        {
            _lastEpoch = m.Epoch;
            _lastOffset = m.Offset;
            _hasLast = true;
        }

        if (m.AfterGap)
        {
            Interlocked.Increment(ref AfterGap);
        }

        Interlocked.Increment(ref Delivered);
        _ledger.CountDelivery();
        if (m.Kind == GatewayMessageKind.Replayed)
        {
            Interlocked.Increment(ref Recovered);
        }

        if (!Payload.TryParse(m.Payload.Span, out var run, out var publisher, out var seq) || run != _ledger.Run || (uint)publisher >= (uint)_received.Length)
        {
            Interlocked.Increment(ref Stale);
            return;
        }

        if (!_received[publisher].Set(seq) && !offsetDuplicate)
        {
            Interlocked.Increment(ref DuplicatePublishes);
        }
    }

    private async Task ReadNotificationsAsync(GatewayClient client, ChannelReader<GatewayMessage> reader)
    {
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var m))
                {
                    OnNotification(m);
                    await client.AckAsync(m).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is GatewayException or ChannelClosedException or ObjectDisposedException)
        {
            ReaderError ??= ex.Message;
        }
    }

    private void OnNotification(GatewayMessage m)
    {
        if (m.IsRecoveryMarker)
        {
            return;
        }

        Interlocked.Increment(ref NotifyDelivered);
        _ledger.CountDelivery();
        if (m.Kind == GatewayMessageKind.Replayed)
        {
            Interlocked.Increment(ref NotifyRecovered);
        }

        if (!Payload.TryParse(m.Payload.Span, out var run, out _, out var seq) || run != _ledger.Run || seq >= _ledger.NotifyCapacity)
        {
            Interlocked.Increment(ref Stale);
            return;
        }

        if (seq % _ledger.Clients != Index)
        {
            Interlocked.Increment(ref Misrouted);
            return;
        }

        if (!_ledger.NotifyReceived.SetAtomic(seq))
        {
            // Already delivered once: at the same offset it is a duplicate the SDK let through, elsewhere a second publish.
            if (Volatile.Read(ref _ledger.NotifyOffsets[seq]) == m.Offset + 1)
            {
                Interlocked.Increment(ref DuplicatesToApp);
            }
            else
            {
                Interlocked.Increment(ref DuplicatePublishes);
            }
        }
        else
        {
            Volatile.Write(ref _ledger.NotifyOffsets[seq], m.Offset + 1);
        }
    }
}
