using System.Net;
using Microsoft.Extensions.Logging;

namespace Gateway.Hosting;

/// <summary>
/// Source-generated log messages of the host with fixed event ids (dashboards and alerts key on
/// them). Connection events always carry the connection id and node id. Tokens and keys never
/// appear in any message.
/// </summary>
internal static partial class GatewayLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Warning, Message = "DEVELOPMENT KEYS IN USE: tokens and API keys are checked against the generated dev keys in {DevKeyFile} (created now: {Created}). Anyone who can read that file can mint tokens. Never run like this in production; configure Gateway:Auth:SigningKeys and Gateway:Auth:ApiKeys.")]
    public static partial void DevKeysInUse(ILogger logger, string devKeyFile, bool created);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Gateway node {NodeId} started: WebSocket at {HttpEndpoints}/ws, raw TCP at {TcpEndpoint}")]
    public static partial void Started(ILogger logger, string nodeId, string httpEndpoints, string tcpEndpoint);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Running in Kubernetes with Gateway:Engine:Kind=memory: correct only with exactly one replica. The node cannot count its pods; Gateway:Engine:Replicas={Replicas} is what the deployment declared. With more than one replica or an autoscaler, use Gateway:Engine:Kind=redis (docs/scale-out.md).")]
    public static partial void InMemoryEngineInKubernetes(ILogger logger, int replicas);

    [LoggerMessage(EventId = 1100, Level = LogLevel.Debug, Message = "Connection {ConnectionId} opened on node {NodeId} over {Transport} from {RemoteAddress}")]
    public static partial void ConnectionOpened(ILogger logger, string connectionId, string nodeId, string transport, IPAddress? remoteAddress);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Connection {ConnectionId} on node {NodeId} authenticated as {UserId} (client {ClientName})")]
    public static partial void ConnectionAuthenticated(ILogger logger, string connectionId, string nodeId, string? userId, string clientName);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Connection {ConnectionId} on node {NodeId} closed: {Reason} (close code {CloseCode}) after {DurationMs} ms")]
    public static partial void ConnectionClosed(ILogger logger, string connectionId, string nodeId, string reason, int closeCode, long durationMs);

    [LoggerMessage(EventId = 1110, Level = LogLevel.Information, Message = "Connection {ConnectionId} on node {NodeId} refused: user {UserId} already has {Max} connections (user_connection_limit)")]
    public static partial void UserConnectionLimit(ILogger logger, string connectionId, string nodeId, string? userId, int max);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Warning, Message = "Connection {ConnectionId} on node {NodeId} failed authentication: {Reason}")]
    public static partial void AuthenticationFailed(ILogger logger, string connectionId, string nodeId, string reason);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Information, Message = "Connection {ConnectionId} on node {NodeId} protocol error {ErrorName}: {Detail}")]
    public static partial void ProtocolError(ILogger logger, string connectionId, string nodeId, string errorName, string detail);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Error, Message = "Connection {ConnectionId} on node {NodeId} failed unexpectedly")]
    public static partial void ConnectionFault(ILogger logger, string connectionId, string nodeId, Exception exception);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Debug, Message = "Connection {ConnectionId} on node {NodeId} refreshed its token (user {UserId})")]
    public static partial void TokenRefreshed(ILogger logger, string connectionId, string nodeId, string? userId);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Debug, Message = "Connection {ConnectionId} on node {NodeId} reported error {ErrorCode}: {Text}")]
    public static partial void ClientReportedError(ILogger logger, string connectionId, string nodeId, int errorCode, string text);

    [LoggerMessage(EventId = 1108, Level = LogLevel.Warning, Message = "Connection {ConnectionId} on node {NodeId} rate limited ({Strikes} consecutive frames refused)")]
    public static partial void RateLimited(ILogger logger, string connectionId, string nodeId, int strikes);

    [LoggerMessage(EventId = 1109, Level = LogLevel.Warning, Message = "Connection {ConnectionId} on node {NodeId} closed with {Owed} PublishAcks still owed after the ack flush deadline; those publishes are unknown to the client")]
    public static partial void AcksUnsentAtClose(ILogger logger, string connectionId, string nodeId, int owed);

    [LoggerMessage(EventId = 1111, Level = LogLevel.Warning, Message = "Connection {ConnectionId} on node {NodeId} closed as slow_consumer: its socket accepted no bytes for {Seconds} s while frames waited (Gateway:Connection:WriteStallTimeout)")]
    public static partial void WriteStalled(ILogger logger, string connectionId, string nodeId, double seconds);

    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Upgrade refused ({Status}) from {RemoteAddress}: {Reason}")]
    public static partial void UpgradeRefused(ILogger logger, int status, IPAddress? remoteAddress, string reason);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Raw TCP connection from {RemoteAddress} refused: {Reason}")]
    public static partial void TcpRefused(ILogger logger, IPAddress? remoteAddress, string reason);

    [LoggerMessage(EventId = 1300, Level = LogLevel.Warning, Message = "Drain started on node {NodeId} ({Trigger}): {Connections} connections get GoAway, deadline {Timeout}")]
    public static partial void DrainStarted(ILogger logger, string nodeId, string trigger, int connections, TimeSpan timeout);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Drain finished on node {NodeId} in {ElapsedMs} ms; {Remaining} connections were still open at the deadline")]
    public static partial void DrainFinished(ILogger logger, string nodeId, long elapsedMs, int remaining);

    [LoggerMessage(EventId = 1401, Level = LogLevel.Debug, Message = "HTTP API caller {Caller} published to {Topic} at offset {Offset}")]
    public static partial void ApiPublished(ILogger logger, string caller, string topic, ulong offset);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Debug, Message = "HTTP API: drained the {Bytes} remaining bytes of an oversized request body after its 413; closing gracefully")]
    public static partial void OversizedBodyDrained(ILogger logger, long bytes);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Information, Message = "HTTP API: gave up draining an oversized request body after {Bytes} bytes ({Reason}); the connection is closed over unread input")]
    public static partial void OversizedBodyDrainAbandoned(ILogger logger, long bytes, string reason);

    [LoggerMessage(EventId = 1404, Level = LogLevel.Information, Message = "HTTP API: idempotency key of caller {Caller} reused with a different request; refused (idempotency_conflict)")]
    public static partial void IdempotencyConflict(ILogger logger, string caller);

    [LoggerMessage(EventId = 1405, Level = LogLevel.Warning, Message = "HTTP API: idempotency key of caller {Caller} not reserved, the shared key store is unreachable; refused (engine_unavailable), nothing published")]
    public static partial void IdempotencyStoreUnavailable(ILogger logger, Exception exception, string caller);

    [LoggerMessage(EventId = 1406, Level = LogLevel.Warning, Message = "HTTP API: published, but the result of its idempotency key could not be stored (shared key store unreachable); a duplicate after the {LeaseSeconds} s reservation lease may publish again")]
    public static partial void IdempotencyResultNotStored(ILogger logger, Exception exception, double leaseSeconds);

    [LoggerMessage(EventId = 1407, Level = LogLevel.Warning, Message = "HTTP API: a failed attempt could not release its idempotency key (shared key store unreachable); the key frees itself after the {LeaseSeconds} s reservation lease")]
    public static partial void IdempotencyReleaseFailed(ILogger logger, Exception exception, double leaseSeconds);
}
