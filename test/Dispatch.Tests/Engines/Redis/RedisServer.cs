using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
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
    private Process? _process;
    private ConnectionMultiplexer? _admin;

    public int Port { get; } = FreeLoopbackPort();

    /// <summary>
    /// With an append-only file fsynced on every write, so a kill and restart keeps every acknowledged write
    /// (how a production Redis behind the gateway should run when Redis restarts must not lose history).
    /// </summary>
    public bool Persistent { get; init; }

    /// <summary>Configuration string for a store: short timeouts so outage tests stay quick.</summary>
    public string Configuration => $"127.0.0.1:{Port}";

    public int Pid => _process?.Id ?? throw new InvalidOperationException("redis-server is not running.");

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

        var start = new ProcessStartInfo("redis-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", Persistent ? "yes" : "no", "--appendfsync", "always",
                     "--dir", _dataDirectory, "--daemonize", "no", "--protected-mode", "no", "--loglevel", "warning",
                 })
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            _process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("redis-server is not installed: install the Debian package redis-server (bash test/prereqs.sh).", ex);
        }

        // A test run that ends without disposing its fixtures (aborted, timed out) still stops the server by PID.
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;

        // Drain its output so a chatty server never blocks on a full pipe.
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = Stopwatch.StartNew();
        while (!await PingAsync())
        {
            if (_process.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(20))
            {
                Stop();
                throw new InvalidOperationException($"redis-server did not answer PING on port {Port}.");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Kills the process (SIGKILL by PID): every client connection drops at once.</summary>
    public void Stop()
    {
        var process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }

        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;

        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }

        process.WaitForExit(10_000);
        process.Dispose();
    }

    private void OnProcessExit(object? sender, EventArgs e) => Stop();

    /// <summary>Sends a signal to the server process (e.g. STOP to hang it, CONT to resume it).</summary>
    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, Pid.ToString()]);
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {Pid} failed.");
        }
    }

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

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
