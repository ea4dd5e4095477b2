namespace Chaos;

/// <summary>
/// One outage of one client: when it saw the connection lost, when it connected again (first successful
/// reconnect) and when its topic subscription was resubscribed on the new connection (ms on the scenario clock; NaN = not yet).
/// </summary>
public sealed class Episode(double disconnectedMs)
{
    public double DisconnectedMs { get; } = disconnectedMs;

    public double ConnectedMs { get; set; } = double.NaN;

    public double ResubscribedMs { get; set; } = double.NaN;

    /// <summary>Closed once both the reconnect and the resubscribe happened.</summary>
    public bool Closed => !double.IsNaN(ConnectedMs) && !double.IsNaN(ResubscribedMs);
}
