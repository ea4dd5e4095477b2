using System.Diagnostics;
using Gateway.Configuration;
using Gateway.Dispatch;
using Gateway.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gateway.Hosting;

/// <summary>
/// Graceful drain (§6): on SIGTERM or <c>POST /api/v1/admin/drain</c> the node stops being ready,
/// refuses new connections (503), sends every session a GoAway with a jittered reconnect hint, keeps
/// serving them (messages keep flowing) while clients reconnect elsewhere and close themselves, and
/// at <c>Gateway:Drain:Timeout</c> closes the connections still open (queues flushed, then 1001; on TCP
/// an Error <c>server_shutting_down</c>), aborting any that has not finished closing within
/// <see cref="ClientConnection.CloseGrace"/> after that.
/// </summary>
public sealed class GatewayLifetime
{
    private readonly ConnectionRegistry _registry;
    private readonly DrainOptions _options;
    private readonly string _nodeId;
    private readonly ILogger<GatewayLifetime> _logger;
    private readonly Lock _lock = new();
    private Task? _drain;
    private volatile bool _draining;

    /// <summary>Creates the lifetime controller.</summary>
    public GatewayLifetime(ConnectionRegistry registry, IOptions<GatewayOptions> options, IOptions<DispatcherOptions> dispatcherOptions, ILogger<GatewayLifetime> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(dispatcherOptions);
        _registry = registry;
        _options = options.Value.Drain;
        _nodeId = dispatcherOptions.Value.NodeId;
        _logger = logger;
    }

    /// <summary>True from the moment a drain starts: readiness is false and new connections are refused.</summary>
    public bool IsDraining => _draining;

    /// <summary>The running or finished drain, or null.</summary>
    public Task? Drain => _drain;

    /// <summary>Starts the drain (idempotent: a second call returns the first drain) and completes when it is done.</summary>
    /// <param name="trigger">What started it (logged): <c>shutdown</c>, <c>api</c>.</param>
    public Task DrainAsync(string trigger = "api")
    {
        lock (_lock)
        {
            if (_drain is null)
            {
                _draining = true;
                _drain = Task.Run(() => RunAsync(trigger));
            }

            return _drain;
        }
    }

    private async Task RunAsync(string trigger)
    {
        var clock = Stopwatch.StartNew();
        var timeout = _options.Timeout;
        var connections = _registry.Connections.ToList();
        GatewayLog.DrainStarted(_logger, _nodeId, trigger, connections.Count, timeout);
        var jitterMs = (int)Math.Min(int.MaxValue, _options.ReconnectJitter.TotalMilliseconds);
        foreach (var connection in connections)
        {
            connection.SendGoAway((uint)Random.Shared.Next(0, jitterMs + 1), "The node is draining; reconnect elsewhere after the hinted delay.");
        }

        // Connections stay open and messages keep flowing after GoAway: each client reconnects after its hinted delay
        // and closes the old connection itself. The drain ends early once every client has left.
        while (clock.Elapsed < timeout && _registry.Count > 0)
        {
            await Task.Delay(20).ConfigureAwait(false);
        }

        // At the deadline, the connections still open are closed: each flushes its queue (and the acks it owes), then
        // closes with 1001 (TCP: Error server_shutting_down), within the connection's own close grace.
        var remaining = _registry.Count;
        foreach (var connection in _registry.Connections)
        {
            connection.RequestClose(CloseRequest.Drained);
        }

        var closeDeadline = timeout + ClientConnection.CloseGrace;
        while (clock.Elapsed < closeDeadline && _registry.Count > 0)
        {
            await Task.Delay(20).ConfigureAwait(false);
        }

        foreach (var connection in _registry.Connections)
        {
            connection.AbortNow();
        }

        GatewayLog.DrainFinished(_logger, _nodeId, clock.ElapsedMilliseconds, remaining);
    }
}
