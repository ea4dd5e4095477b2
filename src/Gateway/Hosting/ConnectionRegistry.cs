using System.Collections.Concurrent;
using Gateway.Transport;

namespace Gateway.Hosting;

/// <summary>
/// The host's live client connections (authenticated or not): what the heartbeat sweeper ticks,
/// what a drain sends GoAway to, and what the connection limits count.
/// </summary>
public sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<long, ClientConnection> _connections = new();

    /// <summary>Number of registered connections.</summary>
    public int Count => _connections.Count;

    internal IEnumerable<ClientConnection> Connections => _connections.Values;

    internal void Add(ClientConnection connection) => _connections[connection.Sequence] = connection;

    internal void Remove(ClientConnection connection) => _connections.TryRemove(connection.Sequence, out _);
}
