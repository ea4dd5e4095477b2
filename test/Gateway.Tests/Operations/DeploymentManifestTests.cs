using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace Gateway.Tests.Operations;

/// <summary>
/// The container files in deploy/ (Kubernetes manifests, compose file, HAProxy config) cannot run here (no container
/// engine, no cluster): they are parsed and checked against the rules they must keep — the shared Redis engine
/// wherever there is more than one replica, drain deadlines inside the grace periods, keys from secrets, and the
/// compose cluster mirroring deploy/local/cluster.sh (docs/operations.md, "Kubernetes and compose").
/// </summary>
public sealed class DeploymentManifestTests
{
    private static readonly string Deploy = Path.Combine(OpsTestEnvironment.RepositoryRoot, "deploy");

    [Fact]
    public void Every_yaml_file_under_deploy_parses_and_every_kubernetes_object_names_its_kind()
    {
        var files = Directory.EnumerateFiles(Deploy, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal))
            .ToList();
        Assert.True(files.Count >= 10, $"{files.Count} YAML files under deploy/");
        var objects = 0;
        foreach (var file in files)
        {
            var documents = Load(file);
            Assert.True(documents.Count > 0, $"{file} has no YAML document");
            var relative = Path.GetRelativePath(Deploy, file);
            if (relative.StartsWith("kubernetes", StringComparison.Ordinal) && Path.GetFileName(file) != "kustomization.yaml")
            {
                foreach (var document in documents)
                {
                    Assert.False(string.IsNullOrEmpty(Scalar(document, "apiVersion")), $"{relative}: an object without apiVersion");
                    Assert.False(string.IsNullOrEmpty(Scalar(document, "kind")), $"{relative}: an object without kind");
                    Assert.False(string.IsNullOrEmpty(Scalar(document, "metadata", "name")), $"{relative}: a {Scalar(document, "kind")} without metadata.name");
                    objects++;
                }
            }
        }

        Assert.True(objects >= 9, $"{objects} Kubernetes objects");
    }

    [Fact]
    public void Kubernetes_runs_the_shared_redis_engine_with_probes_a_drain_inside_the_grace_period_and_keys_from_a_secret()
    {
        var gateway = Load(Path.Combine(Deploy, "kubernetes", "base", "gateway.yaml"));
        var redis = Load(Path.Combine(Deploy, "kubernetes", "base", "redis.yaml"));
        var config = Object(gateway, "ConfigMap", "archmesh-gateway");
        var deployment = Object(gateway, "Deployment", "archmesh-gateway");
        var hpa = Object(gateway, "HorizontalPodAutoscaler", "archmesh-gateway");
        Assert.Equal("policy/v1", Scalar(Object(gateway, "PodDisruptionBudget", "archmesh-gateway"), "apiVersion"));

        // Shared engine: the Redis of redis.yaml, reached through its StatefulSet's stable name.
        Assert.Equal("redis", Scalar(config, "data", "Gateway__Engine__Kind"));
        var redisSet = Object(redis, "StatefulSet", "archmesh-redis");
        var redisService = Object(redis, "Service", "archmesh-redis");
        var redisPort = Scalar(redisService, "spec", "ports", "0", "port");
        Assert.Equal($"archmesh-redis-0.{Scalar(redisSet, "spec", "serviceName")}:{redisPort}", Scalar(config, "data", "Gateway__Engine__Redis__Configuration"));
        Assert.Equal("data", Scalar(redisSet, "spec", "volumeClaimTemplates", "0", "metadata", "name"));
        var redisConf = Scalar(Object(redis, "ConfigMap", "archmesh-redis"), "data", "redis.conf");
        Assert.Contains("appendonly yes", redisConf, StringComparison.Ordinal);
        Assert.Contains("maxmemory-policy noeviction", redisConf, StringComparison.Ordinal);

        // The declared replica count covers everything the autoscaler may run.
        var declared = Int(Scalar(config, "data", "Gateway__Engine__Replicas"));
        Assert.True(declared >= Int(Scalar(hpa, "spec", "maxReplicas")), "Gateway__Engine__Replicas < the HPA's maxReplicas");
        Assert.True(Int(Scalar(hpa, "spec", "minReplicas")) <= Int(Scalar(deployment, "spec", "replicas")));

        // Probes, drain and grace period, keys from the Secret.
        var pod = Node(deployment, "spec", "template", "spec");
        var container = Node(pod, "containers", "0");
        Assert.Equal("/health/live", Scalar(container, "livenessProbe", "httpGet", "path"));
        Assert.Equal("/health/ready", Scalar(container, "readinessProbe", "httpGet", "path"));
        var preStop = Int(Scalar(container, "lifecycle", "preStop", "sleep", "seconds"));
        var drain = TimeSpan.Parse(Scalar(config, "data", "Gateway__Drain__Timeout"), CultureInfo.InvariantCulture);
        var grace = Int(Scalar(pod, "terminationGracePeriodSeconds"));
        // Host shutdown timeout = drain + 10 s; connections still open at the deadline are cut 6 s after it.
        Assert.True(grace > preStop + drain.TotalSeconds + 16, $"terminationGracePeriodSeconds {grace} <= preStop {preStop} + drain {drain.TotalSeconds} + 16");
        Assert.Equal("archmesh-gateway-secrets", Scalar(container, "envFrom", "1", "secretRef", "name"));
        Assert.Equal("Production", Scalar(config, "data", "ASPNETCORE_ENVIRONMENT"));

        // Production protects /metrics on the public port: Prometheus scrapes the management listener's port.
        var management = new Uri(Scalar(config, "data", "Gateway__Management__Urls")).Port.ToString(CultureInfo.InvariantCulture);
        Assert.Equal(management, Scalar(deployment, "spec", "template", "metadata", "annotations", "prometheus.io/port"));
        Assert.Contains(((YamlSequenceNode)Node(container, "ports")).Children, p => Scalar(p, "containerPort") == management);
        Assert.DoesNotContain(((YamlMappingNode)Node(config, "data")).Children.Keys, k => ((YamlScalarNode)k).Value!.Contains("Auth", StringComparison.Ordinal));

        // Both kustomizations name files that exist; the example Secret is not applied.
        var kustomization = Load(Path.Combine(Deploy, "kubernetes", "base", "kustomization.yaml"))[0];
        var resources = ((YamlSequenceNode)Node(kustomization, "resources")).Children.Select(n => ((YamlScalarNode)n).Value!).ToList();
        Assert.Equal(["redis.yaml", "gateway.yaml"], resources);
        Assert.Equal("base", Scalar(Load(Path.Combine(Deploy, "kubernetes", "kustomization.yaml"))[0], "resources", "0"));
        Assert.Equal("Secret", Scalar(Load(Path.Combine(Deploy, "kubernetes", "secret.example.yaml"))[0], "kind"));
    }

    [Fact]
    public void The_single_node_variant_runs_one_replica_on_the_in_memory_engine_without_autoscaler_or_redis()
    {
        var kustomization = Load(Path.Combine(Deploy, "kubernetes", "single-node", "kustomization.yaml"))[0];
        Assert.Equal("../base", Scalar(kustomization, "resources", "0"));
        var patches = ((YamlSequenceNode)Node(kustomization, "patches")).Children;
        var operations = new Dictionary<string, string>(StringComparer.Ordinal);
        var deleted = new List<string>();
        foreach (var patch in patches)
        {
            var kind = Scalar(patch, "target", "kind");
            var body = Load(new StringReader(Scalar(patch, "patch")))[0];
            if (body is YamlSequenceNode ops)
            {
                foreach (var op in ops.Children)
                {
                    operations[$"{kind} {Scalar(op, "op")} {Scalar(op, "path")}"] = op is YamlMappingNode m && m.Children.ContainsKey(new YamlScalarNode("value")) && Node(op, "value") is YamlScalarNode v ? v.Value! : "";
                }
            }
            else
            {
                Assert.Equal("delete", Scalar(body, "$patch"));
                deleted.Add($"{kind}/{Scalar(patch, "target", "name")}");
            }
        }

        Assert.Equal("memory", operations["ConfigMap replace /data/Gateway__Engine__Kind"]);
        Assert.Equal("1", operations["ConfigMap replace /data/Gateway__Engine__Replicas"]);
        Assert.True(operations.ContainsKey("ConfigMap remove /data/Gateway__Engine__Redis__Configuration"));
        Assert.Equal("1", operations["Deployment replace /spec/replicas"]);
        Assert.True(operations.ContainsKey("Deployment replace /spec/strategy"), "a rolling update would run two separate in-memory nodes at once");
        Assert.Contains("HorizontalPodAutoscaler/archmesh-gateway", deleted);
        Assert.Contains("StatefulSet/archmesh-redis", deleted);
    }

    [Fact]
    public void Compose_runs_three_nodes_redis_and_haproxy_like_cluster_sh()
    {
        var compose = Load(Path.Combine(Deploy, "docker", "compose.yaml"))[0];
        var services = (YamlMappingNode)Node(compose, "services");
        var names = services.Children.Keys.Select(k => ((YamlScalarNode)k).Value!).ToList();
        Assert.Equal(["redis", "gateway-1", "gateway-2", "gateway-3", "haproxy"], names);

        // Redis persists its data on a named volume.
        Assert.Equal("redis-data:/data", Scalar(services, "redis", "volumes", "0"));
        Assert.True(((YamlMappingNode)Node(compose, "volumes")).Children.ContainsKey(new YamlScalarNode("redis-data")));

        // The nodes: identical settings but the node id, which is node-I as in cluster.sh; the engine and key names
        // of the cluster.sh contract (docs/operations.md); keys from the env file, in Production.
        var nodes = names.Where(n => n.StartsWith("gateway-", StringComparison.Ordinal)).ToList();
        var environments = nodes.Select(n => Environment(Node(services, n, "environment"))).ToList();
        for (var i = 0; i < nodes.Count; i++)
        {
            Assert.Equal($"node-{i + 1}", environments[i]["Gateway__NodeId"]);
            Assert.Equal(
                environments[0].Where(e => e.Key != "Gateway__NodeId").OrderBy(e => e.Key, StringComparer.Ordinal),
                environments[i].Where(e => e.Key != "Gateway__NodeId").OrderBy(e => e.Key, StringComparer.Ordinal));
            Assert.Equal("gateway.env", Scalar(services, nodes[i], "env_file", "0"));
            Assert.Equal("service_healthy", Scalar(services, nodes[i], "depends_on", "redis", "condition"));
            var grace = Regex.Match(Scalar(services, nodes[i], "stop_grace_period"), "^([0-9]+)s$");
            var drain = TimeSpan.Parse(environments[i]["Gateway__Drain__Timeout"], CultureInfo.InvariantCulture);
            Assert.True(grace.Success && int.Parse(grace.Groups[1].Value, CultureInfo.InvariantCulture) > drain.TotalSeconds + 16, "stop_grace_period must exceed the drain + 16 s");
        }

        var node = environments[0];
        Assert.Equal("redis", node["Gateway__Engine__Kind"]);
        Assert.Equal("redis:6379", node["Gateway__Engine__Redis__Configuration"]);
        Assert.Equal(nodes.Count.ToString(CultureInfo.InvariantCulture), node["Gateway__Engine__Replicas"]);
        Assert.Equal("Production", node["ASPNETCORE_ENVIRONMENT"]);

        // Production protects /metrics on the public port: Prometheus scrapes each node's management listener.
        var managementPort = new Uri(node["Gateway__Management__Urls"]).Port;
        var scrape = File.ReadAllText(Path.Combine(Deploy, "prometheus", "prometheus.yml"));
        foreach (var name in nodes)
        {
            Assert.Contains($"\"{name}:{managementPort}\"", scrape, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(node.Keys, k => k.StartsWith("Gateway__Auth__", StringComparison.Ordinal));
        var example = File.ReadAllText(Path.Combine(Deploy, "docker", "gateway.env.example"));
        Assert.Contains("Gateway__Auth__SigningKeys__0__Secret=", example, StringComparison.Ordinal);
        Assert.Contains("Gateway__Auth__ApiKeys__0__Sha256=", example, StringComparison.Ordinal);
        Assert.Contains("gateway.env", File.ReadAllLines(Path.Combine(Deploy, "docker", ".gitignore")));

        // The front end: cluster.sh's default ports, the stats page on the host's loopback only.
        var ports = ((YamlSequenceNode)Node(services, "haproxy", "ports")).Children.Select(p => ((YamlScalarNode)p).Value!).ToList();
        Assert.Equal(["6080:6080", "6081:6081", "127.0.0.1:6082:6082"], ports);
        Assert.Equal("./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro", Scalar(services, "haproxy", "volumes", "0"));

        // Once deploy/local/cluster.sh is on the branch, every gateway setting it passes its nodes (but the dev key
        // file and its loopback listener settings) is set on the compose nodes too.
        var clusterScript = Path.Combine(Deploy, "local", "cluster.sh");
        if (File.Exists(clusterScript))
        {
            var settings = Regex.Matches(File.ReadAllText(clusterScript), @"\bGateway__[A-Za-z0-9_]+").Select(m => m.Value).Distinct()
                .Where(s => s is not "Gateway__Auth__DevKeyFile" && !s.StartsWith("Gateway__Tcp__", StringComparison.Ordinal));
            Assert.All(settings, s => Assert.True(node.ContainsKey(s), $"cluster.sh sets {s}, compose.yaml does not"));
        }
    }

    [Fact]
    public async Task The_compose_haproxy_config_balances_every_node_by_readiness_and_haproxy_accepts_it()
    {
        var path = Path.Combine(Deploy, "docker", "haproxy.cfg");
        var lines = File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        // Like deploy/haproxy/haproxy.cfg.template: a Healthy-only backend and a fallback of ready-but-degraded nodes, per front end.
        string[] http = ["server gateway-1 gateway-1:5080 check", "server gateway-2 gateway-2:5080 check", "server gateway-3 gateway-3:5080 check"];
        string[] tcp = ["server gateway-1 gateway-1:5081 check port 5080", "server gateway-2 gateway-2:5081 check port 5080", "server gateway-3 gateway-3:5081 check port 5080"];
        Assert.Equal([.. http, .. http, .. tcp, .. tcp], lines.Where(l => l.StartsWith("server ", StringComparison.Ordinal)));
        Assert.Equal(4, lines.Count(l => l == "http-check send meth GET uri /health/ready"));
        Assert.Equal(2, lines.Count(l => l == "http-check expect hdr name X-Health-Status value Healthy"));
        Assert.Contains("use_backend be_serving if { nbsrv(be_ready) eq 0 }", lines);
        Assert.Contains("use_backend be_tcp_serving if { nbsrv(be_tcp_ready) eq 0 }", lines);
        Assert.Equal(4, lines.Count(l => l == "balance leastconn"));
        Assert.Contains("option redispatch", lines);
        Assert.Equal(["bind :6080", "bind :6081", "bind :6082"], lines.Where(l => l.StartsWith("bind ", StringComparison.Ordinal)));
        Assert.Contains("stats enable", lines);
        var tunnel = Regex.Match(lines.Single(l => l.StartsWith("timeout tunnel ", StringComparison.Ordinal)), @"^timeout tunnel ([0-9]+)(s|m|h)$");
        Assert.True(tunnel.Success);
        var seconds = int.Parse(tunnel.Groups[1].Value, CultureInfo.InvariantCulture) * tunnel.Groups[2].Value switch { "h" => 3600, "m" => 60, _ => 1 };
        Assert.True(seconds > 45, "timeout tunnel must outlive the heartbeat (15 s) and the idle timeout (45 s)");

        const string HaproxyPath = "/usr/sbin/haproxy";
        Assert.True(File.Exists(HaproxyPath), $"{HaproxyPath} is required (Debian package 'haproxy').");
        var check = await OpsTestEnvironment.RunAsync(HaproxyPath, ["-c", "-f", path], TimeSpan.FromMinutes(1));
        Assert.True(check.ExitCode == 0, check.Output);
        Assert.Contains("Configuration file is valid", check.Output, StringComparison.Ordinal);
    }

    private static List<YamlNode> Load(string path)
    {
        using var reader = File.OpenText(path);
        return Load(reader);
    }

    private static List<YamlNode> Load(TextReader reader)
    {
        var stream = new YamlStream();
        stream.Load(reader);
        return stream.Documents.Select(d => d.RootNode).ToList();
    }

    private static YamlNode Object(List<YamlNode> documents, string kind, string name) =>
        Assert.Single(documents, d => Scalar(d, "kind") == kind && Scalar(d, "metadata", "name") == name);

    /// <summary>Follows mapping keys and sequence indexes; fails the test naming the path when one is missing.</summary>
    private static YamlNode Node(YamlNode node, params string[] path)
    {
        foreach (var step in path)
        {
            node = node switch
            {
                YamlMappingNode map when map.Children.TryGetValue(new YamlScalarNode(step), out var child) => child,
                YamlSequenceNode list when int.TryParse(step, CultureInfo.InvariantCulture, out var index) && index < list.Children.Count => list.Children[index],
                _ => throw new Xunit.Sdk.XunitException($"no '{step}' in {string.Join('.', path)}"),
            };
        }

        return node;
    }

    private static string Scalar(YamlNode node, params string[] path) => Node(node, path) is YamlScalarNode scalar ? scalar.Value ?? "" : "";

    private static int Int(string value) => int.Parse(value, CultureInfo.InvariantCulture);

    private static Dictionary<string, string> Environment(YamlNode environment) =>
        ((YamlMappingNode)environment).Children.ToDictionary(e => ((YamlScalarNode)e.Key).Value!, e => ((YamlScalarNode)e.Value).Value!, StringComparer.Ordinal);
}
