using System.Globalization;

namespace Chaos;

/// <summary>The cluster's <c>cluster.env</c> (written by <c>deploy/local/cluster.sh up</c>): ports, key file, node count.</summary>
public sealed class ClusterEnv
{
    private readonly Dictionary<string, string> _values;

    private ClusterEnv(string directory, Dictionary<string, string> values)
    {
        Directory = directory;
        _values = values;
    }

    /// <summary>The run directory holding <c>cluster.env</c>.</summary>
    public string Directory { get; }

    public int Nodes => Int("NODES");

    public int LbHttpPort => Int("LB_HTTP_PORT");

    public int LbTcpPort => Int("LB_TCP_PORT");

    public string DevKeyFile => Get("DEV_KEY_FILE");

    public string? Repo => _values.GetValueOrDefault("REPO");

    public int NodeHttpPort(int node) => Int($"NODE_{node}_HTTP");

    public int NodeTcpPort(int node) => Int($"NODE_{node}_TCP");

    /// <summary>Reads <c>{directory}/cluster.env</c> (shell <c>KEY=VALUE</c> lines; quotes stripped, comments skipped).</summary>
    public static ClusterEnv Load(string directory)
    {
        var path = Path.Combine(directory, "cluster.env");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"No cluster.env in {directory}: start a cluster with deploy/local/cluster.sh up (ARCHMESH_CLUSTER_DIR={directory}).", path);
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            if (line.StartsWith("export ", StringComparison.Ordinal))
            {
                line = line[7..].TrimStart();
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }

            var value = line[(eq + 1)..].Trim();
            if (value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[^1] == value[0])
            {
                value = value[1..^1];
            }

            values[line[..eq].Trim()] = value;
        }

        var env = new ClusterEnv(directory, values);
        _ = env.Nodes;
        _ = env.LbHttpPort;
        _ = env.LbTcpPort;
        _ = env.DevKeyFile;
        return env;
    }

    private string Get(string key) => _values.TryGetValue(key, out var v) && v.Length > 0
        ? v
        : throw new InvalidDataException($"cluster.env in {Directory} has no {key}.");

    private int Int(string key) => int.TryParse(Get(key), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
        ? v
        : throw new InvalidDataException($"cluster.env in {Directory}: {key}={Get(key)} is not a number.");
}
