using System.Collections.Concurrent;
using Gateway.Client.Transport;
using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Microsoft.Extensions.Logging;

namespace Gateway.Client.Internal;

/// <summary>
/// One live connection: the transport, its receive loop (frame reader over the transport's pipe),
/// its coalescing writer loop, the Connect handshake, heartbeats and the reason it ended.
/// Session-level frames (messages, acks, errors of requests) go to the owner's callback, in order.
/// </summary>
internal sealed class ClientConnection : IAsyncDisposable
{
    private readonly IClientTransport _transport;
    private readonly GatewayClientOptions _options;
    private readonly ILogger _logger;
    private readonly Func<ClientConnection, InboundFrame, ValueTask> _onFrame;
    private readonly CancellationTokenSource _cts = new();
    private readonly TaskCompletionSource<ConnectionInfo> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<DisconnectInfo> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<long, TaskCompletionSource> _pings = new();
    private readonly TimeProvider _time = TimeProvider.System;
    private Task _readLoop = Task.CompletedTask;
    private Task _writeLoop = Task.CompletedTask;
    private Task _heartbeatLoop = Task.CompletedTask;
    private long _lastReceivedTicks;
    private int _inDelivery;
    private long _pingNonce;
    private int _aborted;
    private int _disposed;
    private GatewayException? _serverError;
    private DisconnectInfo? _localReason;
    private volatile bool _goAway;
    private DateTimeOffset _reconnectNotBefore;
    private TimeSpan _goAwayHint;
    private string? _goAwayText;

    public ClientConnection(IClientTransport transport, GatewayClientOptions options, ILogger logger, Func<ClientConnection, InboundFrame, ValueTask> onFrame)
    {
        _transport = transport;
        _options = options;
        _logger = logger;
        _onFrame = onFrame;
        Writer = new OutboundWriter(options.MaxPendingWriteBytes, ProtocolLimits.DefaultMaxFrameLength);
        _lastReceivedTicks = _time.GetTimestamp();
    }

    /// <summary>Frames to the server are queued here.</summary>
    public OutboundWriter Writer { get; }

    /// <summary>The endpoint of this connection.</summary>
    public Uri Endpoint => _transport.Endpoint;

    /// <summary>The Connected data, once the handshake completed.</summary>
    public ConnectionInfo? Info { get; private set; }

    /// <summary>Whether the server sent GoAway: new requests should wait for the next connection.</summary>
    public bool IsGoingAway => _goAway;

    /// <summary>Completes (never faults) when the connection is over, with the reason.</summary>
    public Task<DisconnectInfo> Completion => _completion.Task;

    /// <summary>Starts the loops, sends Connect and waits for Connected (or the refusal).</summary>
    public async Task<ConnectionInfo> HandshakeAsync(string token, CancellationToken cancellationToken)
    {
        _readLoop = ReadLoopAsync();
        _writeLoop = WriteLoopAsync();
        Writer.TryWrite((token, _options.ClientName), static (w, s) => FrameWriter.WriteConnect(w, ProtocolVersion.Current, s.token, s.ClientName));
        try
        {
            var info = await _connected.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            _heartbeatLoop = HeartbeatLoopAsync(info.HeartbeatInterval);
            return info;
        }
        catch
        {
            Abort("handshake failed", null);
            throw;
        }
    }

    /// <summary>Sends a Ping and waits for its Pong.</summary>
    public async Task<TimeSpan> PingAsync(CancellationToken cancellationToken)
    {
        var nonce = Interlocked.Increment(ref _pingNonce);
        var pong = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _pings[nonce] = pong;
        var started = _time.GetTimestamp();
        try
        {
            if (!Writer.TryWrite(nonce, static (w, n) => FrameWriter.WritePing(w, n)))
            {
                throw new GatewayConnectionException("The connection is closed.");
            }

            await pong.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return _time.GetElapsedTime(started);
        }
        finally
        {
            _pings.TryRemove(nonce, out _);
        }
    }

    /// <summary>Ends the connection now (idempotent); the first reason given wins.</summary>
    public void Abort(string reason, Exception? error)
    {
        Interlocked.CompareExchange(ref _localReason, new DisconnectInfo(reason, error, false, default), null);
        Writer.Complete();
        if (Interlocked.Exchange(ref _aborted, 1) == 0)
        {
            _cts.Cancel();
            _transport.Abort();
        }
    }

    /// <summary>Closes gracefully: flushes what is queued, closes the transport, then tears down.</summary>
    public async Task CloseAsync(string reason)
    {
        Interlocked.CompareExchange(ref _localReason, new DisconnectInfo(reason, null, false, default), null);
        Writer.Complete();
        try
        {
            await _writeLoop.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            using var closeCts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _transport.CloseAsync(closeCts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or GatewayException or IOException)
        {
            // Closing is best effort.
        }

        Abort(reason, null);
    }

    public async ValueTask DisposeAsync()
    {
        Abort("disposed", null);
        await Completion.ConfigureAwait(false);
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await Task.WhenAll(_writeLoop, _heartbeatLoop).ConfigureAwait(false);
        await _transport.DisposeAsync().ConfigureAwait(false);
        _cts.Dispose();
    }

    private async Task ReadLoopAsync()
    {
        await Task.Yield();
        Exception? error = null;
        var reason = "connection closed by the server";
        try
        {
            var limits = ProtocolLimits.Default;
            var leftover = await InboundFrameReader.RunAsync(_transport.Input, limits, OnFrameAsync, _cts.Token).ConfigureAwait(false);
            if (leftover > 0)
            {
                reason = $"connection closed in the middle of a frame ({leftover} bytes)";
            }
        }
        catch (ProtocolException ex)
        {
            // The server's bytes cannot be trusted any more; tell it why before closing (best effort).
            reason = "protocol error from the server";
            error = new GatewayException(ex.Code, 0, ex.Message, ex);
            Writer.TryWrite(ex, static (w, e) => FrameWriter.WriteError(w, e.Code, 0, e.Message.Length > 200 ? e.Message[..200] : e.Message));
            await Task.WhenAny(Task.Delay(100), _writeLoop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            reason = "closed by the client";
        }
        catch (Exception ex)
        {
            reason = "connection lost";
            error = ex;
        }

        Finish(reason, error);
    }

    private async Task WriteLoopAsync()
    {
        await Task.Yield();
        try
        {
            await Writer.RunAsync(_transport.SendAsync, _cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Aborted.
        }
        catch (Exception ex)
        {
            // A failed send means the connection is gone; the read side may not notice for a while.
            Abort("send failed", new GatewayConnectionException($"Sending to {Endpoint} failed: {ex.Message}", ex));
        }
    }

    private async Task HeartbeatLoopAsync(TimeSpan serverInterval)
    {
        var interval = _options.HeartbeatInterval ?? serverInterval;
        if (interval <= TimeSpan.Zero)
        {
            return;
        }

        var deadAfter = interval * (_options.HeartbeatMissesAllowed + 1);
        using var timer = new PeriodicTimer(interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(_cts.Token).ConfigureAwait(false))
            {
                var silent = _time.GetElapsedTime(Interlocked.Read(ref _lastReceivedTicks));

                // While the application is not draining a full subscription buffer we do not read the
                // socket, so silence then says nothing about the server.
                if (silent > deadAfter && Volatile.Read(ref _inDelivery) == 0)
                {
                    Abort("heartbeat timeout", new GatewayConnectionException($"Nothing received from {Endpoint} for {silent.TotalSeconds:F0} s."));
                    return;
                }

                // Only an idle sender needs a ping: any frame sent counts as activity for the server.
                if (Environment.TickCount64 - Writer.LastSentTicks >= (long)(interval.TotalMilliseconds * 0.9))
                {
                    var nonce = Interlocked.Increment(ref _pingNonce);
                    Writer.TryWrite(nonce, static (w, n) => FrameWriter.WritePing(w, n));
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Connection over.
        }
    }

    private async ValueTask OnFrameAsync(InboundFrame frame)
    {
        Interlocked.Exchange(ref _lastReceivedTicks, _time.GetTimestamp());
        switch (frame.Kind)
        {
            case FrameKind.Connected:
                if (Info is not null)
                {
                    throw new ProtocolException(ErrorCode.UnexpectedFrame, "A second Connected frame.");
                }

                Info = new ConnectionInfo(frame.Text1, frame.Text2, frame.Text3, TimeSpan.FromMilliseconds(frame.Milliseconds), (int)Math.Min(frame.MaxFrameLength, int.MaxValue), frame.MaxSubscriptions, Endpoint);
                _connected.TrySetResult(Info);
                return;

            case FrameKind.Ping:
                Writer.TryWrite(frame.Value, static (w, n) => FrameWriter.WritePong(w, n));
                return;

            case FrameKind.Pong:
                if (_pings.TryGetValue(frame.Value, out var pong))
                {
                    pong.TrySetResult();
                }

                return;

            case FrameKind.Error when frame.CorrelationId == 0 || ErrorCatalog.Get(frame.ErrorCode).Fatal:
                {
                    var error = new GatewayException(frame.ErrorCode, frame.CorrelationId, frame.Text2);
                    if (error.IsFatal || Info is null)
                    {
                        _serverError = error;
                        _connected.TrySetException(error);
                    }

                    if (Info is not null)
                    {
                        await _onFrame(this, frame).ConfigureAwait(false);
                    }

                    return;
                }

            case FrameKind.GoAway:
                _goAwayText = frame.Text2;
                _goAwayHint = TimeSpan.FromMilliseconds(frame.Milliseconds);
                _reconnectNotBefore = _time.GetUtcNow() + _goAwayHint;
                _goAway = true;
                ClientLog.GoAwayReceived(_logger, Endpoint, frame.Text2, frame.Milliseconds);

                // Keep reading what the node flushes until it closes, or until the hint is up: then leave on
                // our own (what was still queued is recovered on the next connection).
                _ = CloseAfterAsync(TimeSpan.FromMilliseconds(frame.Milliseconds));
                await _onFrame(this, frame).ConfigureAwait(false);
                return;

            case FrameKind.Connect or FrameKind.Subscribe or FrameKind.Unsubscribe or FrameKind.Publish or FrameKind.Ack or FrameKind.Refresh:
                throw new ProtocolException(ErrorCode.UnexpectedFrame, $"{frame.Kind} is a client-to-server frame.");
        }

        if (Info is null)
        {
            throw new ProtocolException(ErrorCode.UnexpectedFrame, $"{frame.Kind} before Connected.");
        }

        Interlocked.Increment(ref _inDelivery);
        try
        {
            await _onFrame(this, frame).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inDelivery);
            Interlocked.Exchange(ref _lastReceivedTicks, _time.GetTimestamp());
        }
    }

    private async Task CloseAfterAsync(TimeSpan delay)
    {
        try
        {
            await Task.Delay(delay, _time, _cts.Token).ConfigureAwait(false);
            await CloseAsync("go_away: " + _goAwayText).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Closed before the hint ran out.
        }
    }

    private void Finish(string reason, Exception? error)
    {
        Writer.Complete();
        if (Interlocked.Exchange(ref _aborted, 1) == 0)
        {
            _cts.Cancel();
            _transport.Abort();
        }

        DisconnectInfo info;
        var close = _transport.Close;
        if (_serverError is not null)
        {
            info = new DisconnectInfo(_serverError.ErrorName, _serverError, _goAway, _reconnectNotBefore, _goAwayHint);
        }
        else if (close is not null && close.Code != ErrorCode.None && !_goAway)
        {
            var closeError = new GatewayException(close.Code, 0, string.IsNullOrEmpty(close.Description) ? $"WebSocket closed with {close.CloseStatus}" : close.Description);
            info = new DisconnectInfo(closeError.ErrorName, closeError, false, default);
        }
        else if (_goAway)
        {
            info = new DisconnectInfo("go_away: " + _goAwayText, null, true, _reconnectNotBefore, _goAwayHint);
        }
        else if (_localReason is not null)
        {
            info = _localReason;
        }
        else
        {
            info = new DisconnectInfo(reason, error ?? new GatewayConnectionException($"{Endpoint}: {reason}."), false, default);
        }

        _connected.TrySetException(info.Error as GatewayException ?? new GatewayConnectionException($"{Endpoint}: {info.Reason}.", info.Error));
        foreach (var ping in _pings.Values)
        {
            ping.TrySetException(new GatewayConnectionException("The connection was lost."));
        }

        _ = _connected.Task.Exception;
        _completion.TrySetResult(info);
    }
}
