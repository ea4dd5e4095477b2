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

// ClientConnection, the receive side: frame parsing, request handling, permission checks and rate limits.
public abstract partial class ClientConnection
{
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
        // As before with TokenBucketRateLimiter: a frame refused for its bytes still spent its frame token.
        if (TryTake(ref _frameTokens, 1) && TryTake(ref _byteTokens, frameBytes))
        {
            _strikes = 0;
            return true;
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
}
