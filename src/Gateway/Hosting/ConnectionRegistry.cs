using Gateway.Transport;

namespace Gateway.Hosting;

/// <summary>
/// The host's live client connections (authenticated or not): what the heartbeat sweeper ticks,
/// what a drain sends GoAway to, and what the connection limits count. A <see cref="SweepTable{T}"/>:
/// the sweeper walks it a slice per tick without a snapshot or a lock.
/// </summary>
public sealed class ConnectionRegistry
{
    private readonly SweepTable<ClientConnection> _connections = new();

    /// <summary>Number of registered connections.</summary>
    public int Count => _connections.Count;

    /// <summary>A copy of the connections (allocates: for the drain, not for the sweep).</summary>
    internal IEnumerable<ClientConnection> Connections => _connections.ToArray();

    internal void Add(ClientConnection connection) => _connections.Add(connection);

    internal void Remove(ClientConnection connection) => _connections.Remove(connection);

    /// <summary>See <see cref="SweepTable{T}.Sweep{TVisitor}"/>: at most <paramref name="budget"/> connections, sweeper thread only.</summary>
    internal bool Sweep<TVisitor>(int budget, ref TVisitor visitor)
        where TVisitor : struct, ISweepVisitor<ClientConnection> => _connections.Sweep(budget, ref visitor);
}
