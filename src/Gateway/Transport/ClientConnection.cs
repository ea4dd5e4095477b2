using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
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
[SuppressMessage("Design", "CA1001", Justification = "RunAsync owns the connection's whole lifetime and disposes what the connection owns in its finally block; nothing outside holds the connection past RunAsync.")]
public abstract partial class ClientConnection
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

    private readonly ConnectionServices _services;
    private readonly TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopWaiting = new();
    private readonly long _createdMs;
    private readonly string _transport;

    private Session? _session;
    private TopicPermissions? _permissions;
    private TopicCache? _topics;
    // Per-connection token buckets (frames, bytes) as two counters rather than two TokenBucketRateLimiter
    // objects (~450 bytes per connection with their options, queues and locks): taken by the receive loop,
    // refilled by the sweeper's tick (ReplenishRateLimits).
    private long _frameTokens;
    private long _byteTokens;
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

    /// <summary>The transport's receive loop: feeds received bytes to <see cref="ProcessInputAsync"/>.</summary>
    /// <returns>Why reading stopped.</returns>
    private protected abstract Task<CloseRequest> ReceiveLoopAsync();

    /// <summary>Writes the frames as one transport write (one WebSocket message / one flush).</summary>
    private protected abstract ValueTask WriteAsync(List<FrameBuffer> frames, int totalBytes);

    /// <summary>Ends the transport after the last write (WebSocket close frame / TCP FIN).</summary>
    private protected abstract ValueTask CloseTransportAsync(CloseRequest request);

    /// <summary>Cuts the transport immediately; pending reads and writes fail.</summary>
    private protected abstract void Abort();

    /// <summary>Fills both token buckets to their burst (at authentication).</summary>
    private void ResetRateLimits()
    {
        var limits = _services.Options.Limits;
        Volatile.Write(ref _frameTokens, limits.FrameBurst);
        Volatile.Write(ref _byteTokens, limits.ByteBurst);
    }

    /// <summary>
    /// The sweeper's tick: adds a tick's share of the per-second rates to both buckets, up to the burst
    /// (the semantics of a token bucket replenished every <see cref="ConnectionSweeper.TickInterval"/>).
    /// </summary>
    private void ReplenishRateLimits()
    {
        var limits = _services.Options.Limits;
        Refill(ref _frameTokens, Math.Max(1, limits.FramesPerSecond / ConnectionSweeper.TicksPerSecond), limits.FrameBurst);
        Refill(ref _byteTokens, Math.Max(1, limits.BytesPerSecond / ConnectionSweeper.TicksPerSecond), limits.ByteBurst);
    }

    // Only the receive loop takes tokens and only the sweeper adds them: a read then a subtraction is enough on the
    // taking side; the adding side retries when the receive loop took tokens in between.
    private static bool TryTake(ref long tokens, long count)
    {
        if (Volatile.Read(ref tokens) < count)
        {
            return false;
        }

        Interlocked.Add(ref tokens, -count);
        return true;
    }

    private static void Refill(ref long tokens, long add, long burst)
    {
        var current = Volatile.Read(ref tokens);
        while (current < burst)
        {
            var seen = Interlocked.CompareExchange(ref tokens, Math.Min(burst, current + add), current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>Transport hook when a close is requested (e.g. cancel a pending read).</summary>
    private protected virtual void OnCloseRequested()
    {
    }

    /// <summary>Transport hook after everything ended.</summary>
    private protected virtual void OnClosed()
    {
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
