using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Threading.RateLimiting;
using Gateway.Auth;
using Gateway.Dispatch;
using Gateway.Hosting;
using Gateway.Protocol;
using Gateway.Protocol.Buffers;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Protocol.Topics;

namespace Gateway.Transport;

/// <summary>
/// One client connection, independent of the transport (WebSocket or raw TCP): the Connect
/// handshake, auth and token refresh, request handling with permission checks and rate limits,
/// heartbeats and timeouts (driven by <see cref="ConnectionSweeper"/>), and the single write loop
/// that drains the session's outbound queue and coalesces everything queued into one write.
/// Every way of ending (client close, reset mid-frame, protocol error, timeout, slow consumer,
/// drain) goes through <see cref="RequestClose"/> and ends with <see cref="Dispatcher.Disconnect"/>.
/// </summary>
public abstract class ClientConnection
{
    /// <summary>
    /// Longest a closing connection waits for the PublishAcks it owes (publishes accepted but still in the
    /// dispatcher) before it sends its Error frame and closes; what is not acked by then is unknown to the client.
    /// </summary>
    internal static readonly TimeSpan AckFlushTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// After the last frame and the write-side shutdown (TCP FIN / WebSocket close frame), how long the peer's input
    /// is still read and discarded so it can read the error before the socket is closed (closing with unread input
    /// makes the kernel answer with RST, which can destroy the error in flight).
    /// </summary>
    internal static readonly TimeSpan CloseDrainTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Most input bytes discarded while closing; beyond it the peer is hostile and the connection is cut.</summary>
    internal const long CloseDrainMaxBytes = 16 * 1024 * 1024;

    /// <summary>How long a closing connection may take in all (acks, flush, close handshake, drain) before it is aborted.</summary>
    internal static readonly TimeSpan CloseGrace = AckFlushTimeout + CloseDrainTimeout + TimeSpan.FromSeconds(2);

    private const int MessageTimestampOffset = ProtocolLimits.HeaderSize + 1 + 8 + 8;

    private readonly ConnectionServices _services;
    private readonly TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopWaiting = new();
    private readonly long _createdMs;
    private readonly string _transport;

    private Session? _session;
    private TopicPermissions? _permissions;
    private TopicCache? _topics;
    private TokenBucketRateLimiter? _frameLimiter;
    private TokenBucketRateLimiter? _byteLimiter;
    private long _expiresAtMs;
    private long _lastReceiveMs;
    private long _lastPingMs;
    private long _closingSinceMs;
    private int _strikes;
    private int _closing;
    private CloseRequest _close;
    private long _unconsumed;
    private string? _pendingToken;
    private uint _pendingCorrelation;
    private string? _clientName;
    private bool _connectReceived;
    private long _backoffSinceMs;
    private bool _retryingPublish;
    private long _frameStartedMs;
    private long _discarded;
    private int _acksOwed;

    /// <summary>Longest a publish waits for the dispatcher's backlog to shrink before it is refused as overloaded.</summary>
    private const long MaxBackoffMs = 2000;

    /// <summary>Creates a connection; call <see cref="RunAsync"/> to serve it.</summary>
    private protected ClientConnection(ConnectionServices services, IPAddress? remoteAddress, string transport)
    {
        _services = services;
        (Sequence, ConnectionId) = services.NextId();
        RemoteAddress = remoteAddress;
        _transport = transport;
        _createdMs = Environment.TickCount64;
        _lastReceiveMs = _createdMs;
        _lastPingMs = _createdMs;
    }

    /// <summary>The connection id (also sent in Connected).</summary>
    public string ConnectionId { get; }

    /// <summary>The client address.</summary>
    public IPAddress? RemoteAddress { get; }

    internal long Sequence { get; }

    internal Session? Session => Volatile.Read(ref _session);

    internal bool IsClosing => Volatile.Read(ref _closing) != 0;

    /// <summary>Bytes received but not yet parsed (a partial frame).</summary>
    private protected long Unconsumed => _unconsumed;

    /// <summary>True once more than <see cref="CloseDrainMaxBytes"/> were discarded while closing: stop reading.</summary>
    private protected bool DrainExhausted => _discarded > CloseDrainMaxBytes;

    /// <summary>Counts input discarded while closing (see <see cref="DrainExhausted"/>).</summary>
    private protected void Discard(long bytes) => _discarded += bytes;

    /// <summary>False for transports without close codes (raw TCP): a close reason is then told with an Error frame.</summary>
    private protected virtual bool HasCloseCodes => true;

    private protected ConnectionServices Services => _services;

    /// <summary>Serves the connection until it is closed; never throws.</summary>
    public async Task RunAsync()
    {
        _services.Registry.Add(this);
        _services.Metrics.ConnectionOpened(_transport);
        GatewayLog.ConnectionOpened(_services.Logger, ConnectionId, _services.NodeId, _transport, RemoteAddress);
        try
        {
            var receive = ReceiveGuardedAsync();
            await WriteLoopAsync().ConfigureAwait(false);
            if (!receive.IsCompleted)
            {
                // The write side is shut down: the receive loop keeps discarding input while the peer reads the
                // error and closes (WebSocket close frame / TCP FIN); cut the transport after a bounded drain.
                await Task.WhenAny(receive, Task.Delay(CloseDrainTimeout)).ConfigureAwait(false);
                if (!receive.IsCompleted)
                {
                    Abort();
                }
            }

            await receive.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            GatewayLog.ConnectionFault(_services.Logger, ConnectionId, _services.NodeId, e);
            Abort();
        }
        finally
        {
            var session = Interlocked.Exchange(ref _session, null);
            if (session is not null)
            {
                _services.Dispatcher.Disconnect(session);
            }

            _services.Registry.Remove(this);
            _frameLimiter?.Dispose();
            _byteLimiter?.Dispose();
            _stopWaiting.Dispose();
            _services.Metrics.ConnectionClosed(_close.Reason ?? "unknown");
            GatewayLog.ConnectionClosed(_services.Logger, ConnectionId, _services.NodeId, _close.Reason ?? "unknown", _close.CloseCode, Environment.TickCount64 - _createdMs);
            OnClosed();
        }
    }

    /// <summary>
    /// Asks the connection to end: the write loop flushes what is queued, sends the Error frame (if
    /// any), closes the transport. The first request wins. Safe from any thread.
    /// </summary>
    internal bool RequestClose(CloseRequest request)
    {
        if (Interlocked.CompareExchange(ref _closing, 1, 0) != 0)
        {
            return false;
        }

        _close = request;
        Volatile.Write(ref _closingSinceMs, Environment.TickCount64);
        if (request.Error != ErrorCode.None)
        {
            _services.Metrics.ProtocolError(request.Error);
        }

        _wake.TrySetResult();
        // Async cancel: the write loop's continuation must not run on the caller's thread (a sweeper tick or a receive loop).
        _ = _stopWaiting.CancelAsync();
        OnCloseRequested();
        return true;
    }

    /// <summary>Queues GoAway (drain); connections still in the handshake are closed instead.</summary>
    internal void SendGoAway(uint reconnectDelayMs, string reason)
    {
        var session = Session;
        if (session is null)
        {
            RequestClose(CloseRequest.Fatal(ErrorCode.ServerShuttingDown, reason));
            return;
        }

        var frame = _services.Pool.Rent(ProtocolLimits.HeaderSize + 6 + ProtocolLimits.MaxTextBytes);
        FrameWriter.WriteGoAway(frame, reconnectDelayMs, reason);
        session.TryEnqueueControl(frame);
    }

    /// <summary>Cuts the transport at once (drain deadline passed).</summary>
    internal void AbortNow()
    {
        RequestClose(CloseRequest.Reset);
        Abort();
    }

    /// <summary>Heartbeat, deadlines and rate-limit refill; called by the sweeper every tick.</summary>
    internal void Tick(long nowMs, long unixNowMs)
    {
        if (IsClosing)
        {
            if (nowMs - Volatile.Read(ref _closingSinceMs) > CloseGrace.TotalMilliseconds)
            {
                // A peer that stopped reading blocks the final write forever: cut it.
                Abort();
            }

            return;
        }

        var options = _services.Options.Connection;
        var session = Session;
        if (session is null)
        {
            // The deadline is for the Connect frame to arrive; its validation (in progress) is not raced against it.
            if (!Volatile.Read(ref _connectReceived) && nowMs - _createdMs > options.ConnectTimeout.TotalMilliseconds)
            {
                RequestClose(CloseRequest.Fatal(ErrorCode.ConnectTimeout, $"No Connect frame within {options.ConnectTimeout.TotalSeconds:0.###} s."));
            }

            return;
        }

        if (session.Outbound.CloseReason != ErrorCode.None)
        {
            RequestClose(CloseRequest.Fatal(session.Outbound.CloseReason, "The connection could not keep up with its messages; reconnect and recover."));
            return;
        }

        if (nowMs - Volatile.Read(ref _lastReceiveMs) > options.IdleTimeout.TotalMilliseconds)
        {
            RequestClose(CloseRequest.Fatal(ErrorCode.IdleTimeout, $"Nothing received for {options.IdleTimeout.TotalSeconds:0.###} s."));
            return;
        }

        var frameStarted = Volatile.Read(ref _frameStartedMs);
        var frameTimeout = options.EffectiveFrameTimeout;
        if (frameStarted != 0 && nowMs - frameStarted > frameTimeout.TotalMilliseconds)
        {
            RequestClose(CloseRequest.Fatal(ErrorCode.FrameTimeout, $"A frame was begun but not completed within {frameTimeout.TotalSeconds:0.###} s."));
            return;
        }

        if (unixNowMs >= Volatile.Read(ref _expiresAtMs))
        {
            RequestClose(CloseRequest.Fatal(ErrorCode.TokenExpired, "The token expired; reconnect with a fresh token or refresh before expiry."));
            return;
        }

        if (nowMs - _lastPingMs >= options.HeartbeatInterval.TotalMilliseconds)
        {
            _lastPingMs = nowMs;
            var ping = _services.Pool.Rent(ProtocolLimits.HeaderSize + 8);
            FrameWriter.WritePing(ping, unixNowMs);
            session.TryEnqueueControl(ping);
        }

        _frameLimiter?.TryReplenish();
        _byteLimiter?.TryReplenish();
    }

    /// <summary>The transport's receive loop: feeds received bytes to <see cref="ProcessInputAsync"/>.</summary>
    /// <returns>Why reading stopped.</returns>
    private protected abstract Task<CloseRequest> ReceiveLoopAsync();

    /// <summary>Writes the frames as one transport write (one WebSocket message / one flush).</summary>
    private protected abstract ValueTask WriteAsync(List<FrameBuffer> frames, int totalBytes);

    /// <summary>Ends the transport after the last write (WebSocket close frame / TCP FIN).</summary>
    private protected abstract ValueTask CloseTransportAsync(CloseRequest request);

    /// <summary>Cuts the transport immediately; pending reads and writes fail.</summary>
    private protected abstract void Abort();

    /// <summary>Transport hook when a close is requested (e.g. cancel a pending read).</summary>
    private protected virtual void OnCloseRequested()
    {
    }

    /// <summary>Transport hook after everything ended.</summary>
    private protected virtual void OnClosed()
    {
    }

    /// <summary>
    /// Parses and handles every whole frame in <paramref name="result"/>, then advances the reader.
    /// </summary>
    /// <returns>False when the connection must stop reading.</returns>
    private protected async ValueTask<bool> ProcessInputAsync(PipeReader reader, ReadResult result)
    {
        var buffer = result.Buffer;
        if (!buffer.IsEmpty)
        {
            Volatile.Write(ref _lastReceiveMs, Environment.TickCount64);
        }

        while (true)
        {
            Step step;
            try
            {
                step = Process(ref buffer);
            }
            catch (ProtocolException e)
            {
                GatewayLog.ProtocolError(_services.Logger, ConnectionId, _services.NodeId, e.Info.Name, e.Message);
                RequestClose(CloseRequest.Fatal(e.Code, e.Message));
                step = Step.Stop;
            }

            if (step == Step.Authenticate)
            {
                // The buffer stays valid while awaiting: the reader is only advanced below.
                await AuthenticateAsync().ConfigureAwait(false);
                continue;
            }

            if (step == Step.Refresh)
            {
                await RefreshAsync().ConfigureAwait(false);
                continue;
            }

            if (step == Step.Backoff)
            {
                // The dispatcher's backlog is full: leave the publish in the buffer and stop reading this
                // connection for a moment, so the publisher is slowed by TCP instead of refused. The silence
                // is ours, not the peer's: keep the idle timeout from closing a paused publisher.
                Volatile.Write(ref _lastReceiveMs, Environment.TickCount64);
                Volatile.Write(ref _frameStartedMs, 0); // the frame is complete; waiting is ours
                await Task.Delay(1).ConfigureAwait(false);
                continue;
            }

            if (IsClosing)
            {
                // Nothing more is processed: discard the rest so a chatty peer cannot grow the buffer while we close
                // (the transport keeps reading, bounded by CloseDrainMaxBytes, so the peer is not answered with RST).
                _unconsumed = 0;
                _discarded += buffer.Length;
                reader.AdvanceTo(result.Buffer.End);
                return false;
            }

            if (buffer.Length == 0)
            {
                Volatile.Write(ref _frameStartedMs, 0);
            }
            else if (_frameStartedMs == 0 || !buffer.Start.Equals(result.Buffer.Start))
            {
                // A frame has begun (or a new one began after whole frames were consumed): it must complete within
                // Gateway:Connection:FrameTimeout, however slowly its bytes keep arriving.
                Volatile.Write(ref _frameStartedMs, Environment.TickCount64);
            }

            _unconsumed = buffer.Length;
            reader.AdvanceTo(buffer.Start, buffer.End);
            return step == Step.NeedMore;
        }
    }

    private async Task ReceiveGuardedAsync()
    {
        CloseRequest reason;
        try
        {
            reason = await ReceiveLoopAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or System.Net.WebSockets.WebSocketException or System.Net.Sockets.SocketException or Microsoft.AspNetCore.Connections.ConnectionResetException or Microsoft.AspNetCore.Connections.ConnectionAbortedException or ObjectDisposedException)
        {
            reason = CloseRequest.Reset;
        }
        catch (Exception e)
        {
            GatewayLog.ConnectionFault(_services.Logger, ConnectionId, _services.NodeId, e);
            reason = CloseRequest.Fatal(ErrorCode.InternalError, "Unexpected server fault.");
        }

        RequestClose(reason);
    }

    private async Task WriteLoopAsync()
    {
        await _wake.Task.ConfigureAwait(false);
        var batch = new List<FrameBuffer>();
        var ok = true;
        try
        {
            var session = Session;
            if (session is not null)
            {
                session.Outbound.DrainTo(batch);
                ok = await SendAsync(batch).ConfigureAwait(false);
                while (ok && !IsClosing)
                {
                    bool more;
                    try
                    {
                        more = await session.Outbound.WaitToReadAsync(_stopWaiting.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }

                    if (!more)
                    {
                        var reason = session.Outbound.CloseReason;
                        RequestClose(reason != ErrorCode.None
                            ? CloseRequest.Fatal(reason, "The connection could not keep up with its messages; reconnect and recover.")
                            : CloseRequest.Fatal(ErrorCode.ServerShuttingDown, "The node is shutting down; reconnect."));
                        break;
                    }

                    session.Outbound.DrainTo(batch);
                    ok = await SendAsync(batch).ConfigureAwait(false);
                }
            }

            // The loop may have been resumed inline on a dispatch worker (DispatcherOptions.WakeInline): leave
            // that thread before the close sequence (logging, transport close, request teardown), which must
            // not run on, or wait on, a worker.
            await Task.Yield();
            var close = _close;
            if (!ok || close.TransportFailed)
            {
                return;
            }

            // Answers owed first: PublishAcks of publishes the dispatcher has not processed yet (bounded wait).
            var owing = Session;
            if (owing is not null && Volatile.Read(ref _acksOwed) > 0 && !await FlushOwedAcksAsync(owing, batch).ConfigureAwait(false))
            {
                return;
            }

            // Flush what was queued before the close (e.g. everything before a drain's GoAway), then the error.
            Session?.Outbound.DrainTo(batch);
            var report = close.Error != ErrorCode.None ? close.Error : HasCloseCodes ? ErrorCode.None : close.StreamError;
            if (report != ErrorCode.None)
            {
                var error = _services.Pool.Rent(ProtocolLimits.HeaderSize + 8 + ProtocolLimits.MaxTextBytes);
                FrameWriter.WriteError(error, report, close.CorrelationId, close.Text ?? ErrorCatalog.Get(report).Description);
                batch.Add(error);
            }

            if (batch.Count > 0 && !await SendAsync(batch).ConfigureAwait(false))
            {
                return;
            }

            try
            {
                await CloseTransportAsync(close).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or System.Net.WebSockets.WebSocketException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException)
            {
                // The peer is gone already; nothing to tell it.
            }
        }
        finally
        {
            foreach (var frame in batch)
            {
                frame.Release();
            }
        }
    }

    /// <summary>
    /// Waits (at most <see cref="AckFlushTimeout"/>) until every publish this connection had accepted has its
    /// PublishAck written, sending whatever the queue holds meanwhile (acks, answers, messages, in order).
    /// </summary>
    /// <returns>False when the transport failed.</returns>
    private async ValueTask<bool> FlushOwedAcksAsync(Session session, List<FrameBuffer> batch)
    {
        using var deadline = new CancellationTokenSource(AckFlushTimeout);
        while (true)
        {
            session.Outbound.DrainTo(batch);
            if (!await SendAsync(batch).ConfigureAwait(false))
            {
                return false;
            }

            if (Volatile.Read(ref _acksOwed) <= 0)
            {
                return true;
            }

            try
            {
                if (!await session.Outbound.WaitToReadAsync(deadline.Token).ConfigureAwait(false))
                {
                    return true; // completed and empty (slow consumer): those acks are lost, the client treats them as unknown
                }
            }
            catch (OperationCanceledException)
            {
                GatewayLog.AcksUnsentAtClose(_services.Logger, ConnectionId, _services.NodeId, Volatile.Read(ref _acksOwed));
                return true;
            }
        }
    }

    private async ValueTask<bool> SendAsync(List<FrameBuffer> batch)
    {
        if (batch.Count == 0)
        {
            return true;
        }

        try
        {
            var total = CountOut(batch);
            await WriteAsync(batch, total).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or System.Net.WebSockets.WebSocketException or System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException or Microsoft.AspNetCore.Connections.ConnectionResetException or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
        {
            RequestClose(CloseRequest.Reset);
            return false;
        }
        finally
        {
            foreach (var frame in batch)
            {
                frame.Release();
            }

            batch.Clear();
        }
    }

    /// <summary>Metrics of a batch: frames and bytes by kind (one counter add per kind) and one latency sample.</summary>
    private int CountOut(List<FrameBuffer> batch)
    {
        Span<int> frames = stackalloc int[(int)FrameKind.Refreshed + 1];
        Span<long> bytes = stackalloc long[(int)FrameKind.Refreshed + 1];
        var total = 0;
        long oldestTimestamp = 0;
        foreach (var buffer in batch)
        {
            var span = buffer.Span;
            total += span.Length;
            while (span.Length >= ProtocolLimits.HeaderSize)
            {
                var size = ProtocolLimits.HeaderSize + (int)BinaryPrimitives.ReadUInt32BigEndian(span);
                var kind = span[4];
                if (kind < frames.Length)
                {
                    frames[kind]++;
                    bytes[kind] += size;
                }

                if (kind == (byte)FrameKind.Message && oldestTimestamp == 0 && span[5] == 0 && span.Length >= MessageTimestampOffset + 8)
                {
                    oldestTimestamp = BinaryPrimitives.ReadInt64BigEndian(span[MessageTimestampOffset..]);
                }

                span = span[Math.Min(size, span.Length)..];
            }
        }

        if (frames[(int)FrameKind.PublishAck] != 0)
        {
            Interlocked.Add(ref _acksOwed, -frames[(int)FrameKind.PublishAck]);
        }

        for (var i = 0; i < frames.Length; i++)
        {
            if (frames[i] != 0)
            {
                _services.Metrics.FramesOut((FrameKind)i, frames[i], bytes[i]);
            }
        }

        if (oldestTimestamp > 0)
        {
            var latency = (_services.Time.GetUtcNow().ToUnixTimeMilliseconds() - oldestTimestamp) / 1000.0;
            _services.Metrics.DeliveryLatency(Math.Max(0, latency));
        }

        return total;
    }

    private Step Process(ref ReadOnlySequence<byte> buffer)
    {
        var limits = _services.Limits;
        while (!IsClosing)
        {
            var reader = new SequenceReader<byte>(buffer);
            if (!FrameReader.TryRead(ref reader, limits, out var frame))
            {
                return Step.NeedMore;
            }

            // A publish put back by Step.Backoff is parsed again: count and rate-limit it only once.
            var retry = _retryingPublish;
            _retryingPublish = false;
            var frameBytes = (int)reader.Consumed;
            if (!retry)
            {
                _services.Metrics.FrameIn(frame.Kind, frameBytes);
            }

            if (Session is null)
            {
                if (frame.Kind != FrameKind.Connect)
                {
                    RequestClose(CloseRequest.Fatal(ErrorCode.UnexpectedFrame, $"The first frame must be Connect, not {frame.Kind}."));
                    return Step.Stop;
                }

                _pendingToken = frame.Token;
                _clientName = Frame.Decode(frame.ClientName);
                Volatile.Write(ref _connectReceived, true);
                buffer = buffer.Slice(reader.Position);
                return Step.Authenticate;
            }

            if (!retry && !Admit(frameBytes, frame.CorrelationId))
            {
                buffer = buffer.Slice(reader.Position);
                continue;
            }

            switch (frame.Kind)
            {
                case FrameKind.Subscribe:
                    HandleSubscribe(frame);
                    break;
                case FrameKind.Unsubscribe:
                    HandleUnsubscribe(frame);
                    break;
                case FrameKind.Publish:
                    if (!HandlePublish(frame))
                    {
                        _retryingPublish = true;
                        return Step.Backoff; // buffer not sliced: the same frame is parsed again afterwards
                    }

                    break;
                case FrameKind.Ack:
                    _services.Dispatcher.Ack(Session, TopicString(frame.Topic), frame.Offset);
                    break;
                case FrameKind.Ping:
                    {
                        var pong = _services.Pool.Rent(ProtocolLimits.HeaderSize + 8);
                        FrameWriter.WritePong(pong, frame.Value);
                        Session.TryEnqueueControl(pong);
                        break;
                    }

                case FrameKind.Pong:
                    break;
                case FrameKind.Error:
                    GatewayLog.ClientReportedError(_services.Logger, ConnectionId, _services.NodeId, (int)frame.ErrorCode, frame.Text);
                    break;
                case FrameKind.Refresh:
                    _pendingToken = frame.Token;
                    _pendingCorrelation = frame.CorrelationId;
                    buffer = buffer.Slice(reader.Position);
                    return Step.Refresh;
                default:
                    RequestClose(CloseRequest.Fatal(ErrorCode.UnexpectedFrame, $"{frame.Kind} frames are not sent by clients (or Connect was sent twice).", frame.CorrelationId));
                    return Step.Stop;
            }

            buffer = buffer.Slice(reader.Position);
        }

        return Step.Stop;
    }

    /// <summary>Per-connection frame and byte rate limits; closes on sustained abuse.</summary>
    private bool Admit(int frameBytes, uint correlationId)
    {
        using var frameLease = _frameLimiter!.AttemptAcquire(1);
        if (frameLease.IsAcquired)
        {
            using var byteLease = _byteLimiter!.AttemptAcquire(frameBytes);
            if (byteLease.IsAcquired)
            {
                _strikes = 0;
                return true;
            }
        }

        var strikes = ++_strikes;
        if (strikes >= _services.Options.Limits.MaxRateLimitStrikes)
        {
            GatewayLog.RateLimited(_services.Logger, ConnectionId, _services.NodeId, strikes);
            RequestClose(new CloseRequest(ErrorCode.RateLimited, "Rate limit exceeded persistently; closing.", correlationId, 1008, "rate_limited"));
            return false;
        }

        // Tell the client once per streak (and for every request it awaits an answer to), not for every dropped frame.
        if (strikes == 1 || correlationId != 0)
        {
            _services.Metrics.ProtocolError(ErrorCode.RateLimited);
            SendError(ErrorCode.RateLimited, correlationId, "Frame or byte rate limit exceeded; the frame was dropped. Slow down.");
        }

        return false;
    }

    private void HandleSubscribe(in Frame frame)
    {
        var topic = frame.TopicString;
        if (!_permissions!.CanSubscribe(topic) && topic != TopicRules.Broadcast)
        {
            SendError(ErrorCode.Forbidden, frame.CorrelationId, topic.StartsWith(TopicRules.UserPrefix, StringComparison.Ordinal)
                ? "Another user's notifications cannot be subscribed to."
                : "The token does not allow subscribing to this topic.");
            return;
        }

        StreamPosition? recover = (frame.Flags & FrameFlags.Recover) != 0 ? new StreamPosition(frame.Epoch, frame.Offset) : null;
        var error = _services.Dispatcher.Subscribe(Session!, topic, recover, frame.CorrelationId, _services.Options.Limits.MaxSubscriptions);
        if (error != ErrorCode.None)
        {
            SendError(error, frame.CorrelationId, ErrorCatalog.Get(error).Description);
        }
    }

    private void HandleUnsubscribe(in Frame frame)
    {
        var error = _services.Dispatcher.Unsubscribe(Session!, frame.TopicString, frame.CorrelationId);
        if (error != ErrorCode.None)
        {
            SendError(error, frame.CorrelationId, ErrorCatalog.Get(error).Description);
        }
    }

    /// <returns>False when the publish must be retried later (dispatch backlog full; see <see cref="ShouldBackOff"/>).</returns>
    private bool HandlePublish(in Frame frame)
    {
        var topic = TopicString(frame.Topic, out var allowed);
        if (!allowed)
        {
            SendError(ErrorCode.Forbidden, frame.CorrelationId, "The token does not allow publishing to this topic.");
            return true;
        }

        // A draining node takes no new publishes (like the HTTP API): the publisher's clients move to another node, so
        // a publish accepted here would race the drain deadline. Fire-and-forget publishes are dropped (an Error per
        // dropped publish would let a flooding publisher grow this connection's control queue) and counted.
        if (_services.Lifetime.IsDraining)
        {
            _services.Metrics.PublishRefused("draining");
            if (frame.CorrelationId != 0)
            {
                SendError(ErrorCode.ServerShuttingDown, frame.CorrelationId, "The node is draining; publish again on another node.");
            }

            return true;
        }

        // Counted before the publish is offered (its ack may be written before TryPublish returns), and only while
        // not closing: the close path reads the count after the close began, so no accepted publish escapes it.
        var owesAck = frame.CorrelationId != 0;
        if (owesAck)
        {
            Interlocked.Increment(ref _acksOwed);
            if (IsClosing)
            {
                Interlocked.Decrement(ref _acksOwed);
                return true; // not accepted: frames after the close are not processed
            }
        }

        // The dispatcher copies a split payload itself; a known topic allocates nothing.
        var error = _services.Dispatcher.TryPublish(frame, Session);
        if (owesAck && error != ErrorCode.None)
        {
            Interlocked.Decrement(ref _acksOwed);
        }

        if (error == ErrorCode.Overloaded && ShouldBackOff())
        {
            return false;
        }

        _backoffSinceMs = 0;
        if (error != ErrorCode.None)
        {
            SendError(error, frame.CorrelationId, ErrorCatalog.Get(error).Description);
        }

        return true;
    }

    private string TopicString(in ReadOnlySequence<byte> topic) => TopicString(topic, out _);

    private string TopicString(in ReadOnlySequence<byte> topic, out bool canPublish)
    {
        _topics ??= new TopicCache();
        return _topics.Get(topic, _permissions!, out canPublish);
    }

    private void SendError(ErrorCode code, uint correlationId, string text)
    {
        var frame = _services.Pool.Rent(ProtocolLimits.HeaderSize + 8 + ProtocolLimits.MaxTextBytes);
        FrameWriter.WriteError(frame, code, correlationId, text);
        Session?.TryEnqueueControl(frame);
    }

    private async ValueTask AuthenticateAsync()
    {
        var token = _pendingToken ?? "";
        _pendingToken = null;
        var result = await _services.Tokens.ValidateClientAsync(token).ConfigureAwait(false);
        if (result.Error != ErrorCode.None)
        {
            _services.Metrics.AuthFailure(result.Reason ?? "invalid");
            GatewayLog.AuthenticationFailed(_services.Logger, ConnectionId, _services.NodeId, result.Reason ?? "invalid");
            RequestClose(CloseRequest.Fatal(result.Error, result.Message ?? "Unauthorized."));
            return;
        }

        if (IsClosing)
        {
            return;
        }

        var permissions = result.Permissions!;
        _permissions = permissions;
        Volatile.Write(ref _expiresAtMs, (result.ExpiresAt + _services.Tokens.ClockSkew).ToUnixTimeMilliseconds());
        var limits = _services.Options.Limits;
        _frameLimiter = CreateLimiter(limits.FramesPerSecond, limits.FrameBurst);
        _byteLimiter = CreateLimiter(limits.BytesPerSecond, limits.ByteBurst);

        // Connected goes out first, before anything the dispatcher queues on Connect (pending notifications).
        var connected = _services.Pool.Rent(ProtocolLimits.HeaderSize + 10 + (3 * (ProtocolLimits.MaxShortStringBytes + 1)));
        FrameWriter.WriteConnected(
            connected,
            (uint)_services.Options.Connection.HeartbeatInterval.TotalMilliseconds,
            (uint)_services.Limits.MaxFrameLength,
            (ushort)Math.Min(limits.MaxSubscriptions, ushort.MaxValue),
            ConnectionId,
            _services.NodeId,
            permissions.UserId ?? "");
        var perUser = limits.MaxConnectionsPerUser > 0 ? limits.MaxConnectionsPerUser : int.MaxValue;
        if (_services.Dispatcher.TryConnect(ConnectionId, permissions.UserId, perUser, connected, out var session) != ErrorCode.None)
        {
            // Refused after authentication and before registration: nothing of this connection is visible.
            _services.Metrics.ConnectionRefused(ErrorCatalog.Get(ErrorCode.UserConnectionLimit).Name);
            GatewayLog.UserConnectionLimit(_services.Logger, ConnectionId, _services.NodeId, permissions.UserId, limits.MaxConnectionsPerUser);
            RequestClose(CloseRequest.Fatal(ErrorCode.UserConnectionLimit, $"This user already has {limits.MaxConnectionsPerUser} connections on this node (Gateway:Limits:MaxConnectionsPerUser); close one first."));
            return;
        }

        Volatile.Write(ref _session, session);
        GatewayLog.ConnectionAuthenticated(_services.Logger, ConnectionId, _services.NodeId, permissions.UserId, _clientName ?? "");
        _wake.TrySetResult();
        if (_services.Lifetime.IsDraining)
        {
            SendGoAway(0, "The node is draining; reconnect elsewhere.");
            RequestClose(CloseRequest.Drained);
        }
    }

    private async ValueTask RefreshAsync()
    {
        var token = _pendingToken ?? "";
        var correlation = _pendingCorrelation;
        _pendingToken = null;
        var result = await _services.Tokens.ValidateClientAsync(token).ConfigureAwait(false);
        if (result.Error != ErrorCode.None)
        {
            _services.Metrics.AuthFailure(result.Reason ?? "invalid");
            GatewayLog.AuthenticationFailed(_services.Logger, ConnectionId, _services.NodeId, "refresh: " + result.Reason);
            RequestClose(CloseRequest.Fatal(result.Error, "Refresh refused: " + result.Message, correlation));
            return;
        }

        if (result.Permissions!.UserId != _permissions!.UserId)
        {
            _services.Metrics.AuthFailure("refresh_user_mismatch");
            RequestClose(CloseRequest.Fatal(ErrorCode.Unauthorized, "Refresh refused: the new token is for another user.", correlation));
            return;
        }

        _permissions = result.Permissions;
        _topics?.Clear();
        Volatile.Write(ref _expiresAtMs, (result.ExpiresAt + _services.Tokens.ClockSkew).ToUnixTimeMilliseconds());
        var frame = _services.Pool.Rent(ProtocolLimits.HeaderSize + 12);
        FrameWriter.WriteRefreshed(frame, correlation, result.ExpiresAt.ToUnixTimeSeconds());
        Session?.TryEnqueueControl(frame);
        GatewayLog.TokenRefreshed(_services.Logger, ConnectionId, _services.NodeId, _permissions.UserId);
        EndSubscriptionsNoLongerAllowed();
    }

    /// <summary>
    /// A refresh may narrow the token: a subscription the new token would refuse must not keep delivering, so
    /// each one is ended like an Unsubscribe (Unsubscribed, correlation id 0, after what was already queued for it)
    /// and announced by an Error <c>forbidden</c> (correlation id 0) naming the topic. Publishing needs nothing
    /// here: its check reads <see cref="_permissions"/> through the topic cache, which the refresh cleared.
    /// </summary>
    private void EndSubscriptionsNoLongerAllowed()
    {
        if (Session is not { } session)
        {
            return;
        }

        foreach (var topic in session.SubscribedTopics())
        {
            // Broadcast is implicit for every connection; the own user topic is always allowed (CanSubscribe).
            if (topic == TopicRules.Broadcast || _permissions!.CanSubscribe(topic))
            {
                continue;
            }

            var error = _services.Dispatcher.Unsubscribe(session, topic, 0);
            if (error == ErrorCode.Overloaded)
            {
                // The subscription could not be ended now; keeping it would leak messages the token no longer
                // allows, so the connection goes (the client reconnects with its new token).
                RequestClose(CloseRequest.Fatal(ErrorCode.Forbidden, $"The refreshed token no longer allows '{topic}' and the subscription could not be ended (node overloaded); reconnect."));
                return;
            }

            if (error == ErrorCode.None)
            {
                SendError(ErrorCode.Forbidden, 0, $"Subscription to '{topic}' ended: the refreshed token does not allow subscribing to it.");
            }
        }
    }

    private static TokenBucketRateLimiter CreateLimiter(int perSecond, int burst) => new(new TokenBucketRateLimiterOptions
    {
        TokenLimit = burst,
        // Refilled by the sweeper every tick (no timer per connection).
        TokensPerPeriod = Math.Max(1, perSecond / ConnectionSweeper.TicksPerSecond),
        ReplenishmentPeriod = ConnectionSweeper.TickInterval,
        AutoReplenishment = false,
        QueueLimit = 0,
    });

    /// <summary>
    /// Pushback on protocol publishers: a publish refused as overloaded (dispatch backlog full) stays in the
    /// input buffer and the connection is not read for a moment, so the publisher is slowed by TCP instead of
    /// refused; only after <see cref="MaxBackoffMs"/> of retrying is the overloaded error sent.
    /// </summary>
    private bool ShouldBackOff()
    {
        var now = Environment.TickCount64;
        if (_backoffSinceMs == 0)
        {
            _backoffSinceMs = now;
            _services.Metrics.PublishBackoff();
        }

        return now - _backoffSinceMs < MaxBackoffMs;
    }

    private enum Step
    {
        NeedMore,
        Backoff,
        Authenticate,
        Refresh,
        Stop,
    }
}
