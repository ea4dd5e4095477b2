using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Gateway.Client.Tests.Infrastructure;

/// <summary>
/// A loopback TCP forwarder between a client and a gateway, used to fail the network like a real one
/// would: <see cref="DropAll"/> resets every forwarded connection, <see cref="Blocked"/> refuses new
/// ones, and <see cref="TargetPort"/> can be pointed at another node (a restarted gateway).
/// Byte-transparent, so it works for WebSocket and raw TCP alike.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly ConcurrentDictionary<int, (Socket Client, Socket Server)> _pairs = new();
    private readonly ConcurrentDictionary<int, bool> _frozen = new();
    private readonly CancellationTokenSource _cts = new();
    private readonly Task _acceptLoop;
    private int _nextId;
    private int _accepted;

    public TcpProxy(int targetPort)
    {
        TargetPort = targetPort;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = AcceptLoopAsync();
    }

    public int Port { get; }

    /// <summary>The gateway port new connections are forwarded to.</summary>
    public int TargetPort { get; set; }

    /// <summary>While true, new connections are reset at once (the node is unreachable).</summary>
    public bool Blocked { get; set; }

    /// <summary>Connections forwarded so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Connections currently forwarded.</summary>
    public int Active => _pairs.Count;

    public Uri UriFor(string transport) => transport == "tcp" ? new Uri($"tcp://127.0.0.1:{Port}") : new Uri($"ws://127.0.0.1:{Port}/ws");

    /// <summary>Resets every forwarded connection (both sides see an abrupt drop).</summary>
    public void DropAll()
    {
        foreach (var (id, pair) in _pairs)
        {
            Reset(pair.Client);
            Reset(pair.Server);
            _pairs.TryRemove(id, out _);
        }
    }

    /// <summary>
    /// Silently stops forwarding on every current connection without closing it (a half-open
    /// connection: both peers think it is up). New connections are forwarded normally.
    /// </summary>
    public void FreezeExisting()
    {
        foreach (var id in _pairs.Keys)
        {
            _frozen[id] = true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        _listener.Stop();
        DropAll();
        try
        {
            await _acceptLoop;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }

        _cts.Dispose();
    }

    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }

        socket.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_cts.IsCancellationRequested)
        {
            var client = await _listener.AcceptSocketAsync(_cts.Token);
            if (Blocked)
            {
                Reset(client);
                continue;
            }

            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await server.ConnectAsync(new IPEndPoint(IPAddress.Loopback, TargetPort), _cts.Token);
            }
            catch (SocketException)
            {
                Reset(client);
                server.Dispose();
                continue;
            }

            client.NoDelay = true;
            var id = Interlocked.Increment(ref _nextId);
            _pairs[id] = (client, server);
            Interlocked.Increment(ref _accepted);
            _ = PumpPairAsync(id, client, server);
        }
    }

    private async Task PumpPairAsync(int id, Socket client, Socket server)
    {
        // Both directions run to their end, so a graceful close (FIN after the last bytes) loses nothing.
        await Task.WhenAll(PumpAsync(id, client, server), PumpAsync(id, server, client));
        _pairs.TryRemove(id, out _);
        client.Dispose();
        server.Dispose();
    }

    private async Task PumpAsync(int id, Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None);
                if (read == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }

                if (!_frozen.ContainsKey(id))
                {
                    await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // One side failed abruptly: pass the abort on to the other side too.
            Reset(from);
            Reset(to);
        }
    }
}
