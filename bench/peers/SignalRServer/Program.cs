// ASP.NET Core SignalR peer with the JSON and MessagePack hub protocols, default options.
// Clients connect to /hub?groups=1,2&user=7 (WebSockets, negotiation skipped) and receive m(byte[]);
// a publisher invokes Send(op, id, payload): op 0 = everyone, 1 = group "g{id}", 2 = user group "u{id}".
// Scale-out (bench/compare.sh --cluster): --Redis=127.0.0.1:PORT (or env SIGNALR_REDIS) adds the
// StackExchange.Redis backplane with default options and channel prefix "bench"; without it nothing changes.
using Microsoft.AspNetCore.SignalR;

var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.Limits.MaxConcurrentConnections = null;
    k.Limits.MaxConcurrentUpgradedConnections = null;
});
var signalr = builder.Services.AddSignalR().AddMessagePackProtocol();
var redis = builder.Configuration["Redis"] ?? Environment.GetEnvironmentVariable("SIGNALR_REDIS");
if (!string.IsNullOrEmpty(redis))
{
    signalr.AddStackExchangeRedis(redis, o => o.Configuration.ChannelPrefix = StackExchange.Redis.RedisChannel.Literal("bench"));
}

var app = builder.Build();
app.MapHub<BenchHub>("/hub");
app.Run();

internal sealed class BenchHub : Hub
{
    public override async Task OnConnectedAsync()
    {
        var http = Context.GetHttpContext()!;
        foreach (var g in http.Request.Query["groups"].ToString().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            await Groups.AddToGroupAsync(Context.ConnectionId, "g" + g);
        }

        var user = http.Request.Query["user"].ToString();
        if (user.Length > 0)
        {
            await Groups.AddToGroupAsync(Context.ConnectionId, "u" + user);
        }
    }

    public Task Send(int op, long id, byte[] payload) => op switch
    {
        0 => Clients.All.SendAsync("m", payload),
        1 => Clients.Group("g" + id).SendAsync("m", payload),
        _ => Clients.Group("u" + id).SendAsync("m", payload),
    };
}
