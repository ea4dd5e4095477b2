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

// ClientConnection, Connect (authentication) and token refresh.
public abstract partial class ClientConnection
{
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
        ResetRateLimits();

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
}
