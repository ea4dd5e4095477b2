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

// ClientConnection, heartbeats, deadlines and rate-limit refill, driven by the sweeper.
public abstract partial class ClientConnection
{
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

        var writeStarted = Volatile.Read(ref _writeStartedMs);
        if (writeStarted != 0 && nowMs - writeStarted > options.WriteStallTimeout.TotalMilliseconds)
        {
            // The socket accepted nothing for that long while frames wait: the client does not read. Release what is
            // queued now, and cut the transport: the Error frame could not be written anyway, and a graceful close would
            // keep the connection's buffers for the close grace period.
            session.Outbound.CloseAsSlowConsumer();
            GatewayLog.WriteStalled(_services.Logger, ConnectionId, _services.NodeId, options.WriteStallTimeout.TotalSeconds);
            RequestClose(CloseRequest.Fatal(ErrorCode.SlowConsumer, $"The connection accepted no bytes for {options.WriteStallTimeout.TotalSeconds:0.###} s while frames waited."));
            Abort();
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

        ReplenishRateLimits();
    }
}
