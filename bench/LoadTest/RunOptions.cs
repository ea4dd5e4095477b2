using System.ComponentModel;

namespace LoadTest;

/// <summary>Every option of <c>LoadTest run</c> (the command line is generated from these fields: --kebab-case).</summary>
public sealed class RunOptions
{
    [Description("idle | hold (idle, then one HTTP broadcast counted per connection) | broadcast | fanout | notify | priority | slow | churn | soak (--minutes of churn, mixed priorities, acked notifications, slow clients; samples the server every --sample-seconds; bench/soak.sh)")]
    public string Scenario { get; set; } = "fanout";

    [Description("archmesh-ws | archmesh-ws-aspnet (same client; gateway started with Gateway:WebSocket:Transport=aspnet) | archmesh-tcp | floor | node-ws | signalr-json | signalr-msgpack")]
    public string Target { get; set; } = "archmesh-ws";

    [Description("Server address (loopback only)")]
    public string Host { get; set; } = "127.0.0.1";

    [Description("Server port (WebSocket/HTTP, or the raw TCP port for archmesh-tcp)")]
    public int Port { get; set; } = 5080;

    [Description("Cluster: comma-separated ports of several nodes (default: --port only). Subscriber i connects to node i % n; one publisher per node, each at --rate / n (open loop) or with its own --window (closed loop)")]
    public string Ports { get; set; } = "";

    [Description("Cluster: comma-separated server pids matching --ports (CPU and RSS are summed over them)")]
    public string ServerPids { get; set; } = "";

    [Description("Port of a loopback redis-server whose INFO commandstats are read at the window's start and end (Redis commands per publish); 0 = none")]
    public int RedisPort { get; set; }

    [Description("HTTP port for --publish-via http (default: --port)")]
    public int HttpPort { get; set; }

    [Description("Subscriber connections")]
    public int Connections { get; set; } = 2000;

    [Description("Number of group topics (connection i joins group i % groups); 0 = broadcast topic")]
    public int Groups { get; set; } = 10;

    [Description("Publishes per second, open loop (latency from the scheduled send time); 0 = max, closed loop")]
    public double Rate { get; set; }

    [Description("Closed loop: publishes in flight (sent, not yet echoed back to the publisher); 0 = no window, send as fast as the server reads (TCP push-back only)")]
    public int Window { get; set; } = 64;

    [Description("Payload bytes (>= 17: scheduled timestamp, sequence, publisher id, filler)")]
    public int PayloadSize { get; set; } = 64;

    [Description("Warm-up seconds (traffic flows, nothing recorded)")]
    public double Warmup { get; set; } = 3;

    [Description("Measurement seconds")]
    public double Duration { get; set; } = 10;

    [Description("Maximum seconds to wait for in-flight deliveries after the window")]
    public double Drain { get; set; } = 5;

    [Description("Number of 127.0.0.x source addresses for client sockets (from 127.0.0.2)")]
    public int Sources { get; set; } = 4;

    [Description("Concurrent connection attempts")]
    public int ConnectConcurrency { get; set; } = 64;

    [Description("Connections opened per second during the ramp (0 = as fast as possible)")]
    public double ConnectRate { get; set; }

    [Description("Client sockets per process; above this, worker processes hold the rest")]
    public int PerProcess { get; set; } = 9000;

    [Description("Server process id for RSS/CPU (0 = find the process listening on --port)")]
    public int ServerPid { get; set; }

    [Description("Output directory for <label>.json and <label>.md")]
    public string Out { get; set; } = "bench/results/adhoc";

    [Description("Result name (default: <scenario>-<target>-<rate>)")]
    public string Label { get; set; } = "";

    [Description("HS256 signing secret (base64) the gateway was started with")]
    public string JwtSecret { get; set; } = "YXJjaG1lc2gtYmVuY2gtc2VjcmV0LWtleS0wMTIzNDU2Nzg5YWJjZGVm";

    [Description("JWT key id")]
    public string JwtKid { get; set; } = "bench";

    [Description("Gateway API key (HTTP publishing)")]
    public string ApiKey { get; set; } = "bench-api-key";

    [Description("Publish over: ws (protocol frames on the publisher's connection) | http (POST /api/v1/publish, frames body)")]
    public string PublishVia { get; set; } = "ws";

    [Description("Priorities of publishes: normal | mixed (5% critical, 15% high, 40% normal, 40% low) | low | critical")]
    public string Priorities { get; set; } = "normal";

    [Description("fanout: fraction of publishes sent to a personal topic (user:{id}) instead of a group")]
    public double PersonalFraction { get; set; }

    [Description("slow: fraction of subscribers that stop reading")]
    public double SlowFraction { get; set; } = 0.1;

    [Description("churn: connects+disconnects per second while traffic flows")]
    public double ChurnRate { get; set; } = 20;

    [Description("notify: fraction of users whose clients ack notifications")]
    public double AckFraction { get; set; } = 1.0;

    [Description("notify: fraction of users reconnecting each second (pending notifications are redelivered)")]
    public double ReconnectFraction { get; set; } = 0.01;

    [Description("idle: seconds to hold the connections after the ramp")]
    public double Hold { get; set; } = 10;

    [Description("priority: critical probe publishes per second")]
    public double CriticalRate { get; set; } = 50;

    [Description("soak: minutes the soak runs")]
    public double Minutes { get; set; } = 30;

    [Description("soak: minutes of warm-up excluded from the RSS/heap slopes")]
    public double WarmupMinutes { get; set; } = 5;

    [Description("soak: seconds between samples of the server (RSS, GC heap, threads, fds, CPU, latency)")]
    public double SampleSeconds { get; set; } = 60;

    [Description("soak: subscribers that stop reading for half of every sample interval (reconnected if the server closes them)")]
    public int SlowClients { get; set; } = 10;

    [Description("Receive buffer bytes per client socket")]
    public int BufferSize { get; set; } = 16384;

    [Description("Seconds before the whole run aborts")]
    public double Timeout { get; set; } = 600;
}
