using System.Globalization;

namespace Chaos;

/// <summary>Command-line settings of a chaos run (<c>--name value</c>; see <see cref="Usage"/>).</summary>
public sealed class ChaosOptions
{
    public const string Usage = """
        Chaos: fault scenarios against a cluster started by deploy/local/cluster.sh, measured with the .NET SDK.
          --cluster-dir DIR        run directory with cluster.env (default $ARCHMESH_CLUSTER_DIR or /tmp/archmesh-cluster)
          --cluster-script PATH    cluster.sh to inject faults with (default <REPO>/deploy/local/cluster.sh)
          --scenarios LIST         kill,rolling,redis,freeze (default all)
          --clients N              SDK clients, half WebSocket, half raw TCP, through HAProxy (default 3000)
          --topics N               topics chaos.0..N-1, one per client (default 100: each client gets topic-rate/topics msgs/s)
          --topic-rate R           topic messages/s in total, half HTTP API, half protocol (default 100)
          --notify-rate R          notifications/s through the HTTP API (default 50)
          --warmup S               seconds of publishing before the fault (default 8)
          --tail S                 seconds of publishing after the cluster is whole again (default 5)
          --heartbeat S            client heartbeat interval in seconds; dead after 3 silent intervals (default 4; 0 = the server's 15 s)
          --fault-node I           node killed / frozen (default 2)
          --publisher-node I       node the protocol publisher connects to first (default 1)
          --connect-parallel N     concurrent connects while setting up (default 32)
          --settle-timeout S       longest wait for every client to be whole and quiet at the end (default 90)
          --out DIR                results directory (summary.md, chaos.json, chaos-<scenario>.svg)
          --quick                  scenario kill alone with 300 clients and a 5 s warm-up
        """;

    public string ClusterDir { get; set; } = Environment.GetEnvironmentVariable("ARCHMESH_CLUSTER_DIR") is { Length: > 0 } d ? d : "/tmp/archmesh-cluster";

    public string? ClusterScript { get; set; }

    public List<string> Scenarios { get; set; } = ["kill", "rolling", "redis", "freeze"];

    public int Clients { get; set; } = 3000;

    public int Topics { get; set; } = 100;

    public double TopicRate { get; set; } = 100;

    public double NotifyRate { get; set; } = 50;

    public double WarmupSeconds { get; set; } = 8;

    public double TailSeconds { get; set; } = 5;

    public double HeartbeatSeconds { get; set; } = 4;

    public int FaultNode { get; set; } = 2;

    public int PublisherNode { get; set; } = 1;

    public int ConnectParallel { get; set; } = 32;

    public double SettleTimeoutSeconds { get; set; } = 90;

    public string Out { get; set; } = "bench/results/chaos";

    public bool Quick { get; set; }

    public static readonly string[] KnownScenarios = ["kill", "rolling", "redis", "freeze"];

    /// <summary>Parses the arguments; throws <see cref="ArgumentException"/> naming the bad option.</summary>
    public static ChaosOptions Parse(string[] args)
    {
        var o = new ChaosOptions();
        bool clientsSet = false, scenariosSet = false, warmupSet = false;
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
            double Number() => double.TryParse(Next(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 ? v : throw new ArgumentException($"{name}: '{args[i]}' is not a non-negative number.");
            int Integer(int min) => int.TryParse(Next(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min ? v : throw new ArgumentException($"{name}: '{args[i]}' is not an integer >= {min}.");
            switch (name)
            {
                case "--cluster-dir": o.ClusterDir = Next(); break;
                case "--cluster-script": o.ClusterScript = Next(); break;
                case "--scenarios":
                    o.Scenarios = [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                    scenariosSet = true;
                    break;
                case "--clients": o.Clients = Integer(1); clientsSet = true; break;
                case "--topics": o.Topics = Integer(1); break;
                case "--topic-rate": o.TopicRate = Number(); break;
                case "--notify-rate": o.NotifyRate = Number(); break;
                case "--warmup": o.WarmupSeconds = Number(); warmupSet = true; break;
                case "--tail": o.TailSeconds = Number(); break;
                case "--heartbeat": o.HeartbeatSeconds = Number(); break;
                case "--fault-node": o.FaultNode = Integer(1); break;
                case "--publisher-node": o.PublisherNode = Integer(1); break;
                case "--connect-parallel": o.ConnectParallel = Integer(1); break;
                case "--settle-timeout": o.SettleTimeoutSeconds = Number(); break;
                case "--out": o.Out = Next(); break;
                case "--quick": o.Quick = true; break;
                case "-h" or "--help": throw new ArgumentException(string.Empty);
                default: throw new ArgumentException($"Unknown option {name}.");
            }
        }

        if (o.Quick)
        {
            o.Clients = clientsSet ? o.Clients : 300;
            o.Scenarios = scenariosSet ? o.Scenarios : ["kill"];
            o.WarmupSeconds = warmupSet ? o.WarmupSeconds : 5;
        }

        foreach (var s in o.Scenarios)
        {
            if (!KnownScenarios.Contains(s))
            {
                throw new ArgumentException($"--scenarios: unknown scenario '{s}' (known: {string.Join(',', KnownScenarios)}).");
            }
        }

        return o;
    }
}
