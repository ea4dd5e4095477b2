// The "floor": the simplest raw Kestrel WebSocket broadcaster. A publisher sends binary messages
// [op u8][id u32 BE][payload] (op 0 = everyone, 1 = group id, 2 = user id); the payload is copied once
// into a byte[] (pre-serialized) and queued on each recipient's unbounded channel; each connection's
// writer loop does one SendAsync per message. No protocol, no auth, no priorities, no bounds:
// it shows what our protocol and dispatch cost or save.
using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Threading.Channels;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.Limits.MaxConcurrentConnections = null;
    k.Limits.MaxConcurrentUpgradedConnections = null;
});
var app = builder.Build();
app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
var registry = new Registry();

app.Map("/ws", async (HttpContext ctx) =>
{
    if (!ctx.WebSockets.IsWebSocketRequest)
    {
        ctx.Response.StatusCode = 400;
        return;
    }

    var groups = ctx.Request.Query["groups"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
    _ = int.TryParse(ctx.Request.Query["user"], out var user);
    using var ws = await ctx.WebSockets.AcceptWebSocketAsync();
    var conn = new Conn(ws);
    registry.Add(conn, groups, user);
    var writer = conn.WriteLoopAsync(ctx.RequestAborted);
    var buffer = new byte[4096];
    try
    {
        var length = 0;
        while (true)
        {
            var r = await ws.ReceiveAsync(buffer.AsMemory(length), ctx.RequestAborted);
            if (r.MessageType == WebSocketMessageType.Close)
            {
                break;
            }

            length += r.Count;
            if (!r.EndOfMessage)
            {
                if (length == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }

                continue;
            }

            if (length >= 5)
            {
                var op = buffer[0];
                var id = (int)BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan(1));
                var message = buffer.AsSpan(5, length - 5).ToArray(); // serialized once, shared by every recipient
                foreach (var c in registry.Recipients(op, id))
                {
                    c.Queue.Writer.TryWrite(message);
                }
            }

            length = 0;
        }
    }
    catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
    {
    }
    finally
    {
        registry.Remove(conn, groups, user);
        conn.Queue.Writer.TryComplete();
    }

    await writer;
    if (ws.State is WebSocketState.Open or WebSocketState.CloseReceived)
    {
        try
        {
            await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        }
        catch (Exception e) when (e is WebSocketException or IOException)
        {
        }
    }
});

app.Run();

internal sealed class Conn(WebSocket ws)
{
    public Channel<byte[]> Queue { get; } = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });

    public async Task WriteLoopAsync(CancellationToken ct)
    {
        var reader = Queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(ct))
            {
                while (reader.TryRead(out var m))
                {
                    await ws.SendAsync(m, WebSocketMessageType.Binary, endOfMessage: true, ct);
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
        }
    }
}

/// <summary>Copy-on-write member arrays: publishers iterate a snapshot without locking.</summary>
internal sealed class Registry
{
    private readonly object _lock = new();
    private readonly Dictionary<int, Conn[]> _groups = [];
    private readonly Dictionary<int, Conn[]> _users = [];
    private Conn[] _all = [];

    public void Add(Conn c, int[] groups, int user)
    {
        lock (_lock)
        {
            _all = [.. _all, c];
            foreach (var g in groups)
            {
                _groups[g] = [.. _groups.GetValueOrDefault(g) ?? [], c];
            }

            _users[user] = [.. _users.GetValueOrDefault(user) ?? [], c];
        }
    }

    public void Remove(Conn c, int[] groups, int user)
    {
        lock (_lock)
        {
            _all = [.. _all.Where(x => x != c)];
            foreach (var g in groups)
            {
                _groups[g] = [.. _groups[g].Where(x => x != c)];
            }

            _users[user] = [.. _users[user].Where(x => x != c)];
        }
    }

    public Conn[] Recipients(byte op, int id)
    {
        lock (_lock)
        {
            return op switch
            {
                0 => _all,
                1 => _groups.GetValueOrDefault(id) ?? [],
                _ => _users.GetValueOrDefault(id) ?? [],
            };
        }
    }
}
