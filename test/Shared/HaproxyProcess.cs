using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Gateway.Tests.Shared;

/// <summary>
/// A real <c>haproxy</c> process running a configuration rendered from deploy/haproxy/haproxy.cfg.template by
/// <c>deploy/local/cluster.sh render</c> (exactly what <c>cluster.sh up</c> writes), on loopback ports, with a
/// throwaway directory, stopped by its PID. Needs the Debian package haproxy (test/prereqs.sh installs it).
/// The gateway nodes behind it listen where the template expects them (<see cref="ClusterPorts"/>).
/// </summary>
public sealed class HaproxyProcess : IAsyncDisposable
{
    private const string InstallHint = "install the Debian package haproxy (bash test/prereqs.sh)";

    private readonly string _directory;
    private ServerProcess? _process;

    private HaproxyProcess(string directory, ClusterPorts ports)
    {
        _directory = directory;
        Ports = ports;
    }

    /// <summary>The ports the configuration was rendered for.</summary>
    public ClusterPorts Ports { get; }

    /// <summary>The rendered configuration file.</summary>
    public string ConfigPath => Path.Combine(_directory, "haproxy.cfg");

    /// <summary>HTTP front end (API and /ws).</summary>
    public Uri HttpAddress => new($"http://127.0.0.1:{Ports.LbHttp}/");

    /// <summary>WebSocket address through the HTTP front end.</summary>
    public Uri WebSocketUri => new($"ws://127.0.0.1:{Ports.LbHttp}/ws");

    /// <summary>Raw TCP front end.</summary>
    public IPEndPoint TcpEndPoint => new(IPAddress.Loopback, Ports.LbTcp);

    /// <summary>The client endpoint through the balancer for <paramref name="transport"/> ("tcp" or "websocket").</summary>
    public Uri UriFor(string transport) => transport == "tcp" ? new Uri($"tcp://127.0.0.1:{Ports.LbTcp}") : WebSocketUri;

    /// <summary>Renders the template for <paramref name="nodes"/> nodes with cluster.sh, the way <c>up</c> does.</summary>
    public static async Task<string> RenderAsync(int nodes, ClusterPorts ports)
    {
        ArgumentNullException.ThrowIfNull(ports);
        var (exitCode, output, error) = await ServerProcess.RunToEndAsync(
            "bash",
            [Path.Combine(TestRepository.Root, "deploy", "local", "cluster.sh"), "render", nodes.ToString(CultureInfo.InvariantCulture)],
            TimeSpan.FromSeconds(30),
            "bash is required",
            new Dictionary<string, string>
            {
                ["NODE_BASE_PORT"] = ports.NodeBase.ToString(CultureInfo.InvariantCulture),
                ["LB_HTTP_PORT"] = ports.LbHttp.ToString(CultureInfo.InvariantCulture),
                ["LB_TCP_PORT"] = ports.LbTcp.ToString(CultureInfo.InvariantCulture),
                ["LB_STATS_PORT"] = ports.LbStats.ToString(CultureInfo.InvariantCulture),
            });
        Assert.True(exitCode == 0, $"cluster.sh render failed ({exitCode}): {error}");
        return output;
    }

    /// <summary>Runs <c>haproxy -c -f</c> on a configuration file: its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> CheckAsync(string configPath)
    {
        var (exitCode, output, error) = await ServerProcess.RunToEndAsync("haproxy", ["-c", "-f", configPath], TimeSpan.FromSeconds(30), InstallHint);
        return (exitCode, output + error);
    }

    /// <summary>Renders the configuration for <paramref name="nodes"/> nodes and starts HAProxy on it; returns once its stats page answers.</summary>
    public static async Task<HaproxyProcess> StartAsync(int nodes, ClusterPorts ports)
    {
        var haproxy = new HaproxyProcess(Directory.CreateTempSubdirectory("archmesh-haproxy-").FullName, ports);
        try
        {
            await File.WriteAllTextAsync(haproxy.ConfigPath, await RenderAsync(nodes, ports));

            // -db: foreground, one PID to stop.
            haproxy._process = ServerProcess.Start("haproxy", ["-db", "-f", haproxy.ConfigPath], InstallHint, workingDirectory: haproxy._directory);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            await haproxy._process.WaitUntilReadyAsync(
                async () =>
                {
                    using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{ports.LbStats}/;csv"));
                    return response.IsSuccessStatusCode;
                },
                TimeSpan.FromSeconds(15),
                "stats page");
            return haproxy;
        }
        catch
        {
            await haproxy.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Server states from the stats page CSV (<c>/;csv</c>), keyed "backend/server" (e.g. "be_ready/node-1"),
    /// valued by HAProxy's status column (UP, DOWN, "UP 1/2", ...).
    /// </summary>
    public async Task<Dictionary<string, string>> ServerStatesAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var csv = await http.GetStringAsync(new Uri($"http://127.0.0.1:{Ports.LbStats}/;csv"));
        var states = new Dictionary<string, string>();
        foreach (var line in csv.Split('\n'))
        {
            var columns = line.Split(',');

            // pxname,svname,...: column 18 (index 17) is status.
            if (line.StartsWith('#') || columns.Length < 18 || columns[1] is "FRONTEND" or "BACKEND")
            {
                continue;
            }

            states[columns[0] + "/" + columns[1]] = columns[17];
        }

        return states;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _process?.Dispose();
        _process = null;
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: under the system temp folder.
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Loopback ports for a cluster laid out like cluster.sh's: node i on NodeBase+10*i (HTTP) and +1 (raw TCP),
    /// and the balancer's three front ends. Chosen below the ephemeral range and checked free.
    /// </summary>
    public sealed record ClusterPorts(int NodeBase, int LbHttp, int LbTcp, int LbStats)
    {
        /// <summary>HTTP port of node <paramref name="i"/> (1-based).</summary>
        public int NodeHttp(int i) => NodeBase + (10 * i);

        /// <summary>Raw TCP port of node <paramref name="i"/> (1-based).</summary>
        public int NodeTcp(int i) => NodeBase + (10 * i) + 1;

        /// <summary>Finds a block of free ports for <paramref name="nodes"/> nodes.</summary>
        public static ClusterPorts Free(int nodes)
        {
            for (var attempt = 0; attempt < 200; attempt++)
            {
                // 20000-32000: below Linux's ephemeral range (32768+), so no outgoing connection takes them meanwhile.
                var nodeBase = 20_000 + (Random.Shared.Next(1_200) * 10);
                var ports = new ClusterPorts(nodeBase, nodeBase + 1, nodeBase + 2, nodeBase + 3);
                var all = new List<int> { ports.LbHttp, ports.LbTcp, ports.LbStats };
                for (var i = 1; i <= nodes; i++)
                {
                    all.Add(ports.NodeHttp(i));
                    all.Add(ports.NodeTcp(i));
                }

                if (all.All(IsFree))
                {
                    return ports;
                }
            }

            throw new InvalidOperationException("No free block of loopback ports in 20000-32000.");
        }

        private static bool IsFree(int port)
        {
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }
    }
}
