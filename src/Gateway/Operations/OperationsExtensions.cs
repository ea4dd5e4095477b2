using System.Diagnostics.Metrics;
using Gateway.Api;
using Gateway.Operations.Dashboard;
using Gateway.Operations.Health;
using Gateway.Operations.Logging;
using Gateway.Operations.Metrics;
using Gateway.Operations.Stats;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Gateway.Operations;

/// <summary>
/// Wires the operations surface of the gateway: structured logging, health checks, Prometheus metrics,
/// performance history and the live dashboard. The host calls <see cref="AddGatewayOperations"/> on the
/// builder and <see cref="MapGatewayOperations"/> on the built application.
/// </summary>
public static class OperationsExtensions
{
    private const string LiveTag = "live";
    private const string ReadyTag = "ready";

    /// <summary>Registers logging, health checks, metrics export and the stats collector.</summary>
    /// <param name="builder">The host's application builder.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static WebApplicationBuilder AddGatewayOperations(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;

        // Options are read when first needed, so configuration added after this call (tests) applies.
        services.AddSingleton(sp => ReadOptions(sp.GetRequiredService<IConfiguration>()));
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new GatewayProbe(sp, sp.GetRequiredService<IConfiguration>()));

        builder.AddGatewaySerilog();

        // One registry per application (not prometheus-net's static default), so several gateways in one
        // process (tests) each export their own figures.
        services.AddSingleton(_ =>
        {
            var registry = Prometheus.Metrics.NewCustomRegistry();
            DotNetStats.Register(registry);
            return registry;
        });
        services.AddSingleton(sp => new MeterBridge(
            sp.GetRequiredService<CollectorRegistry>(),
            sp.GetService<IMeterFactory>(),
            [.. MeterBridge.MeterNames, OperationsMetrics.MeterName]));

        services.AddSingleton<WorkerProgressHealthCheck>();
        services.AddSingleton<ReadinessHealthCheck>();
        services.AddSingleton<OperationsMetrics>();
        services.AddHealthChecks()
            .Add(new HealthCheckRegistration("workers", sp => sp.GetRequiredService<WorkerProgressHealthCheck>(), HealthStatus.Unhealthy, [LiveTag, ReadyTag]))
            .Add(new HealthCheckRegistration("readiness", sp => sp.GetRequiredService<ReadinessHealthCheck>(), HealthStatus.Unhealthy, [ReadyTag]));

        services.AddSingleton<StatsCollector>();
        services.AddHostedService(sp => sp.GetRequiredService<StatsCollector>());
        services.AddSingleton<ClusterView>();
        services.AddHostedService<NodeSummaryPublisher>();
        return builder;
    }

    /// <summary>
    /// Maps <c>/health/live</c>, <c>/health/ready</c> (open, on every listener), <c>/metrics</c>, <c>/api/v1/stats</c>,
    /// <c>/api/v1/stats/history</c>, <c>/api/v1/stats/cluster</c> and <c>/dashboard</c> (policy
    /// <see cref="ApiPolicies.Operations"/>, on the management listener when <c>Gateway:Management:Urls</c> is set),
    /// Call <see cref="UseGatewayOperationsRequestLog"/> first, before the security middleware, so refused requests
    /// are in the request log too.
    /// </summary>
    /// <param name="app">The built application.</param>
    /// <returns>The same application, for chaining.</returns>
    public static WebApplication MapGatewayOperations(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var services = app.Services;
        var probe = services.GetRequiredService<GatewayProbe>();

        // Create the bridge and the operations meter now, so the first scrape already sees every instrument.
        var registry = services.GetRequiredService<CollectorRegistry>();
        _ = services.GetRequiredService<MeterBridge>();
        _ = services.GetRequiredService<OperationsMetrics>();

        // Probes: open, on every listener.
        app.MapHealthChecks("/health/live", HealthOptions(LiveTag, probe)).AllowAnonymous().OnEveryListener().ExcludeFromDescription();
        app.MapHealthChecks("/health/ready", HealthOptions(ReadyTag, probe)).AllowAnonymous().OnEveryListener().ExcludeFromDescription();

        // The rest: on the management listener when there is one, admin key when Gateway:Management requires it.
        var ops = app.MapGroup("").RequireAuthorization(ApiPolicies.Operations).OnManagementListener();
        ops.MapMetrics("/metrics", registry).ExcludeFromDescription();

        ops.MapGet("/api/v1/stats", (StatsCollector stats) => Results.Json(stats.Current))
            .WithName("GetStats")
            .WithSummary("The node's key figures over the last sample interval (default 1 s).");
        ops.MapGet("/api/v1/stats/history", (StatsCollector stats, OperationsOptions options, DateTimeOffset? since) => Results.Json(new
        {
            node = probe.NodeId,
            intervalSeconds = options.StatsInterval.TotalSeconds,
            windowSeconds = options.StatsWindow.TotalSeconds,
            capacity = stats.History.Capacity,
            snapshots = stats.History.ToList(since),
        }))
            .WithName("GetStatsHistory")
            .WithSummary("Snapshots every Gateway:Stats:Interval over Gateway:Stats:Window, oldest first; ?since= returns only newer ones.");
        ops.MapGet("/api/v1/stats/cluster", async (ClusterView cluster) => Results.Json(await cluster.ReadAsync().ConfigureAwait(false)))
            .WithName("GetClusterStats")
            .WithSummary("Every node sharing this node's Redis with its latest summary and age (this node alone on the in-memory engine or when Redis is unreachable).");

        ops.MapDashboard();
        return app;
    }

    /// <summary>Adds Serilog's request log (before the middleware that may refuse a request, so it sees every request).</summary>
    /// <param name="app">The built application.</param>
    /// <returns>The same application, for chaining.</returns>
    public static WebApplication UseGatewayOperationsRequestLog(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseGatewayRequestLogging();
        return app;
    }

    private static HealthCheckOptions HealthOptions(string tag, GatewayProbe probe) => new()
    {
        Predicate = registration => registration.Tags.Contains(tag),
        ResponseWriter = (context, report) => HealthResponseWriter.WriteAsync(context, report, probe.NodeId),
        ResultStatusCodes =
        {
            [HealthStatus.Healthy] = StatusCodes.Status200OK,
            [HealthStatus.Degraded] = StatusCodes.Status200OK,
            [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
        },
    };

    /// <summary>
    /// Reads and checks <c>Gateway:Stats</c> and <c>Gateway:Health</c>. Every problem is reported at once as an
    /// <see cref="OptionsValidationException"/>, which Program prints as "refuses to start" naming each setting.
    /// </summary>
    internal static OperationsOptions ReadOptions(IConfiguration configuration)
    {
        var defaults = new OperationsOptions();
        var failures = new List<string>();
        var options = new OperationsOptions
        {
            StatsInterval = Read(configuration, "Gateway:Stats:Interval", defaults.StatsInterval, failures),
            StatsWindow = Read(configuration, "Gateway:Stats:Window", defaults.StatsWindow, failures),
            StatsSampleInterval = Read(configuration, "Gateway:Stats:SampleInterval", defaults.StatsSampleInterval, failures),
            ClusterInterval = Read(configuration, "Gateway:Stats:ClusterInterval", defaults.ClusterInterval, failures),
            ClusterForgetAfter = Read(configuration, "Gateway:Stats:ClusterForgetAfter", defaults.ClusterForgetAfter, failures),
            StallTimeout = Read(configuration, "Gateway:Health:StallTimeout", defaults.StallTimeout, failures),
            RingSaturation = ReadFraction(configuration, "Gateway:Health:RingSaturation", defaults.RingSaturation, failures),
        };

        if (failures.Count > 0)
        {
            // Range checks on values that did not parse would only repeat the problem.
            throw new OptionsValidationException("Gateway:Stats", typeof(OperationsOptions), failures);
        }

        if (options.StatsInterval < TimeSpan.FromMilliseconds(100))
        {
            failures.Add("Gateway:Stats:Interval must be at least 00:00:00.1.");
        }
        else if (options.StatsWindow < options.StatsInterval)
        {
            failures.Add("Gateway:Stats:Window must be at least Gateway:Stats:Interval.");
        }
        else if (options.StatsWindow / options.StatsInterval > 100_000)
        {
            failures.Add("Gateway:Stats:Window / Gateway:Stats:Interval must not exceed 100000 snapshots.");
        }

        if (options.StatsSampleInterval < TimeSpan.FromMilliseconds(100) || options.StatsSampleInterval > options.StatsInterval)
        {
            failures.Add("Gateway:Stats:SampleInterval must be between 00:00:00.1 and Gateway:Stats:Interval.");
        }

        if (options.ClusterInterval < TimeSpan.FromMilliseconds(100) || options.ClusterInterval > TimeSpan.FromMinutes(5))
        {
            failures.Add("Gateway:Stats:ClusterInterval must be between 00:00:00.1 and 00:05:00.");
        }
        else if (options.ClusterForgetAfter < options.ClusterEntryTtl || options.ClusterForgetAfter > TimeSpan.FromDays(7))
        {
            failures.Add("Gateway:Stats:ClusterForgetAfter must be between 3 x Gateway:Stats:ClusterInterval and 7.00:00:00.");
        }

        if (options.StallTimeout <= TimeSpan.Zero)
        {
            failures.Add("Gateway:Health:StallTimeout must be positive.");
        }

        if (options.RingSaturation is <= 0 or > 1)
        {
            failures.Add("Gateway:Health:RingSaturation must be in (0, 1].");
        }

        return failures.Count == 0 ? options : throw new OptionsValidationException("Gateway:Stats", typeof(OperationsOptions), failures);
    }

    private static double ReadFraction(IConfiguration configuration, string key, double fallback, List<string> failures)
    {
        var text = configuration[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        if (double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        failures.Add($"{key} must be a number such as 0.9 (got '{text}').");
        return fallback;
    }

    private static TimeSpan Read(IConfiguration configuration, string key, TimeSpan fallback, List<string> failures)
    {
        var text = configuration[key];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        // Accept "00:00:10" and the shorter "10s" / "5m" / "1h" / "500ms".
        if (TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        var t = text.Trim();
        (string Suffix, Func<double, TimeSpan> Make)[] units =
            [("ms", TimeSpan.FromMilliseconds), ("s", TimeSpan.FromSeconds), ("m", TimeSpan.FromMinutes), ("h", TimeSpan.FromHours)];
        foreach (var (suffix, make) in units)
        {
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(t[..^suffix.Length], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n)
                && n >= 0)
            {
                try
                {
                    return make(n);
                }
                catch (Exception e) when (e is OverflowException or ArgumentException)
                {
                    break; // NaN, infinity or beyond TimeSpan.MaxValue: reported below
                }
            }
        }

        failures.Add($"{key} must be a time span such as 00:00:10 or 10s (got '{text}').");
        return fallback;
    }
}
