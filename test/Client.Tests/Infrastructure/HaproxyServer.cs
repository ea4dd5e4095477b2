using System.Diagnostics;
using System.Net;
using System.Text;

namespace Gateway.Client.Tests.Infrastructure;

/// <summary>
/// A real <c>haproxy</c> process (Debian package haproxy; test/prereqs.sh installs it) on free loopback ports
/// in front of gateway nodes, configured like a production balancer: HTTP mode for <c>/ws</c> and the API with
/// health checks on <c>/health/ready</c> (a dead or draining node leaves the rotation within ~0.5 s),
/// least connections, redispatch on a refused connection, a tunnel timeout longer than the heartbeat; TCP
/// mode for the raw TCP port (checked over HTTP on the node's HTTP port). Stopped by PID, also at process exit.
/// </summary>
public sealed class HaproxyServer : IAsyncDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("archmesh-haproxy-").FullName;
    private readonly StringBuilder _log = new();
    private Process? _process;

    private HaproxyServer()
    {
    }

    /// <summary>The HTTP front end (WebSocket <c>/ws</c> and the HTTP API).</summary>
    public int HttpPort { get; } = GatewayNode.FreeLoopbackPort();

    /// <summary>The raw TCP front end.</summary>
    public int TcpPort { get; } = GatewayNode.FreeLoopbackPort();

    public Uri UriFor(string transport) => transport == "tcp" ? new Uri($"tcp://127.0.0.1:{TcpPort}") : new Uri($"ws://127.0.0.1:{HttpPort}/ws");

    /// <summary>Writes the configuration, starts haproxy and waits until it forwards <c>/health/ready</c>.</summary>
    public static async Task<HaproxyServer> StartAsync(IReadOnlyList<GatewayNode> nodes)
    {
        var server = new HaproxyServer();
        try
        {
            await server.RunAsync(nodes);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync()
    {
        Stop();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the directory is under the system temp folder.
        }

        return ValueTask.CompletedTask;
    }

    private string Configuration(IReadOnlyList<GatewayNode> nodes)
    {
        var config = new StringBuilder($"""
            global
                maxconn 4096

            defaults
                timeout connect 2s
                timeout client 60s
                timeout server 60s
                timeout tunnel 60s
                option redispatch
                retries 3

            frontend http_in
                mode http
                bind 127.0.0.1:{HttpPort}
                default_backend gateways_http

            backend gateways_http
                mode http
                balance leastconn
                option httpchk GET /health/ready
                default-server inter 500ms fall 1 rise 1

            """);
        config.Append('\n');
        foreach (var node in nodes)
        {
            config.Append($"    server {node.NodeId} 127.0.0.1:{node.HttpPort} check\n");
        }

        config.Append($"""

            frontend tcp_in
                mode tcp
                bind 127.0.0.1:{TcpPort}
                default_backend gateways_tcp

            backend gateways_tcp
                mode tcp
                balance leastconn
                option httpchk GET /health/ready
                default-server inter 500ms fall 1 rise 1

            """);
        config.Append('\n');
        foreach (var node in nodes)
        {
            config.Append($"    server {node.NodeId} 127.0.0.1:{node.TcpPort} check port {node.HttpPort}\n");
        }

        return config.ToString();
    }

    private async Task RunAsync(IReadOnlyList<GatewayNode> nodes)
    {
        var path = Path.Combine(_directory, "haproxy.cfg");
        await File.WriteAllTextAsync(path, Configuration(nodes));
        var start = new ProcessStartInfo("haproxy")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _directory,
        };
        start.ArgumentList.Add("-f");
        start.ArgumentList.Add(path);
        start.ArgumentList.Add("-db");
        try
        {
            _process = Process.Start(start) ?? throw new InvalidOperationException("haproxy did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("haproxy is not installed: install the Debian package haproxy (bash test/prereqs.sh).", ex);
        }

        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}"), Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                string log;
                lock (_log)
                {
                    log = _log.ToString();
                }

                throw new InvalidOperationException($"haproxy did not forward /health/ready:\n{log}");
            }

            try
            {
                using var response = await http.GetAsync("/health/ready");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            await Task.Delay(50);
        }
    }

    private void Keep(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.AppendLine(line);
            }
        }
    }

    private void Stop()
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
}
