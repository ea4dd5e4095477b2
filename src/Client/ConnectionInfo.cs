namespace Gateway.Client;

/// <summary>What the gateway reported in its Connected frame for the current connection.</summary>
/// <param name="ConnectionId">The server's id of this connection (appears in its logs).</param>
/// <param name="NodeId">The gateway node serving the connection.</param>
/// <param name="UserId">The authenticated user (the token's <c>sub</c>); empty for publisher tokens.</param>
/// <param name="HeartbeatInterval">The heartbeat interval the server expects.</param>
/// <param name="MaxFrameLength">The largest frame body the server accepts.</param>
/// <param name="MaxSubscriptions">The largest number of subscriptions per connection.</param>
/// <param name="Endpoint">The endpoint connected to.</param>
public sealed record ConnectionInfo(string ConnectionId, string NodeId, string UserId, TimeSpan HeartbeatInterval, int MaxFrameLength, int MaxSubscriptions, Uri Endpoint);
