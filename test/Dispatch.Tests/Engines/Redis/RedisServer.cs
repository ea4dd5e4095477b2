using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Tests.Shared;
using StackExchange.Redis;

namespace Gateway.Dispatch.Tests.Engines.Redis;

/// <summary>
/// A real <c>redis-server</c> process on a free loopback port with a throwaway data directory and no
/// persistence, stopped by its PID. Tests may stop and start it again on the same port (a restart that loses
/// every key, like a crash of a Redis without persistence). Needs the Debian package redis-server
/// (.ci/apt-packages; test/prereqs.sh installs it).
/// </summary>
public sealed class RedisServer : IAsyncLifetime
{
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("archmesh-redis-").FullName;
    private ServerProcess? _process;
    private ConnectionMultiplexer? _admin;

    public int Port { get; } = ServerProcess.FreeLoopbackPort();

    /// <summary>
    /// With an append-only file fsynced on every write, so a kill and restart keeps every acknowledged write
    /// (how a production Redis behind the gateway should run when Redis restarts must not lose history).
    /// </summary>
    public bool Persistent { get; init; }

    /// <summary>Configuration string for a store: short timeouts so outage tests stay quick.</summary>
    public string Configuration => $"127.0.0.1:{Port}";

    public int Pid => _process?.Pid ?? throw new InvalidOperationException("redis-server is not running.");

    public Task InitializeAsync() => StartAsync();

    public async Task DisposeAsync()
    {
        if (_admin is not null)
        {
            await _admin.DisposeAsync();
        }

        Stop();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the directory is under the system temp folder.
        }
    }

    public async Task StartAsync()
    {
        if (_process is not null)
        {
            throw new InvalidOperationException("redis-server is already running.");
        }

        _process = ServerProcess.Start(
            "redis-server",
            [
                "--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", Persistent ? "yes" : "no", "--appendfsync", "always",
                "--dir", _dataDirectory, "--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning",
            ],
            "install the Debian package redis-server (bash test/prereqs.sh)");
        await _process.WaitUntilReadyAsync(PingAsync, TimeSpan.FromSeconds(20), $"PING on port {Port}");
    }

    /// <summary>Kills the process (SIGKILL by PID): every client connection drops at once.</summary>
    public void Stop()
    {
        _process?.Dispose();
        _process = null;
    }

    /// <summary>Sends a signal to the server process (e.g. STOP to hang it, CONT to resume it).</summary>
    public void Signal(string signal) => (_process ?? throw new InvalidOperationException("redis-server is not running.")).Signal(signal);

    /// <summary>An admin connection (INFO, FLUSHALL, CONFIG) independent of the stores under test.</summary>
    public async Task<IServer> AdminAsync()
    {
        _admin ??= await ConnectionMultiplexer.ConnectAsync($"{Configuration},allowAdmin=true,abortConnect=false");
        return _admin.GetServer("127.0.0.1", Port);
    }

    /// <summary>Calls of one command since the last CONFIG RESETSTAT, from INFO commandstats.</summary>
    public async Task<long> CommandCallsAsync(string command)
    {
        var server = await AdminAsync();
        var info = await server.InfoAsync("commandstats");
        foreach (var group in info)
        {
            foreach (var entry in group)
            {
                if (entry.Key == "cmdstat_" + command)
                {
                    // calls=12,usec=...,usec_per_call=...
                    var calls = entry.Value.Split(',')[0];
                    return long.Parse(calls["calls=".Length..]);
                }
            }
        }

        return 0;
    }

    private async Task<bool> PingAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }
}
