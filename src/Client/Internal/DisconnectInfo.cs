namespace Gateway.Client.Internal;

/// <summary>Why a connection ended.</summary>
/// <param name="Reason">Short human-readable reason.</param>
/// <param name="Error">The failure (a <see cref="GatewayException"/> when the server gave a code).</param>
/// <param name="GoAway">Whether the server asked the client to reconnect elsewhere.</param>
/// <param name="ReconnectNotBefore">Earliest time to reconnect (GoAway hint), UTC.</param>
/// <param name="GoAwayHint">The reconnect delay the GoAway hinted (zero without GoAway, or when the gateway gave none).</param>
internal sealed record DisconnectInfo(string Reason, Exception? Error, bool GoAway, DateTimeOffset ReconnectNotBefore, TimeSpan GoAwayHint = default);
