using Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.Configuration;

/// <summary>The node refuses to start on bad or insecure configuration, with messages naming the setting.</summary>
public sealed class StartupValidationTests
{
    [Fact]
    public async Task Production_without_keys_refuses_to_start_naming_the_settings()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayServer.StartAsync(
            new Dictionary<string, string?>
            {
                ["Gateway:Auth:SigningKeys:0:Id"] = null,
                ["Gateway:Auth:SigningKeys:0:Algorithm"] = null,
                ["Gateway:Auth:SigningKeys:0:Secret"] = null,
                ["Gateway:Auth:ApiKeys:0:Name"] = null,
                ["Gateway:Auth:ApiKeys:0:Sha256"] = null,
            },
            environment: "Production"));
        Assert.Contains(error.Failures, f => f.Contains("Gateway:Auth:SigningKeys", StringComparison.Ordinal) && f.Contains("Production", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Gateway:Auth:ApiKeys", StringComparison.Ordinal));
    }

    public static TheoryData<string, string, string> BadSettings() => new()
    {
        { "Gateway:Auth:ClockSkew", "00:05:00", "Gateway:Auth:ClockSkew" },
        { "Gateway:Limits:MaxFrameLength", "10", "MaxFrameLength" },
        { "Gateway:Auth:SigningKeys:0:Secret", "c2hvcnQ=", "Gateway:Auth:SigningKeys:0" },
        { "Gateway:Auth:SigningKeys:0:Algorithm", "none", "Gateway:Auth:SigningKeys:0" },
        { "Gateway:Auth:ApiKeys:0:Sha256", "not-a-hash", "Gateway:Auth:ApiKeys:0:Sha256" },
        { "Gateway:Connection:IdleTimeout", "00:00:01", "Gateway:Connection:IdleTimeout" },
        { "Gateway:Auth:AllowedOrigins:0", "https://app.example.com/path", "Gateway:Auth:AllowedOrigins:0" },
        { "Gateway:Dispatch:RingCapacity", "1000", "Gateway:Dispatch:RingCapacity" },
        { "Gateway:Dispatch:Budget:MaxTopics", "0", "Gateway:Dispatch:Budget:MaxTopics" },
        { "Gateway:Dispatch:Budget:MaxHistoryBytes", "-1", "Gateway:Dispatch:Budget:MaxHistoryBytes" },
        { "Gateway:Dispatch:Budget:EvictAbovePercent", "10", "Gateway:Dispatch:Budget:EvictAbovePercent" },
        { "Gateway:Dispatch:IdleTopicSweepBatch", "0", "Gateway:Dispatch:IdleTopicSweepBatch" },
        { "Gateway:Dispatch:History:MaxBytes", "-1", "Gateway:Dispatch:History:MaxBytes" },
        { "Gateway:Dispatch:Outbound:MaxFrames", "0", "Gateway:Dispatch:Outbound:MaxFrames: Outbound:MaxFrames must be at least 1." },
        { "Gateway:Dispatch:PendingTtl", "00:00:00", "Gateway:Dispatch:PendingTtl" },
        { "Gateway:Stats:Interval", "soon", "Gateway:Stats:Interval must be a time span" },
        { "Gateway:Stats:Interval", "1e300h", "Gateway:Stats:Interval must be a time span" },
        { "Gateway:Health:StallTimeout", "NaNs", "Gateway:Health:StallTimeout must be a time span" },
        { "Gateway:Stats:Window", "00:00:01", "Gateway:Stats:Window must be at least Gateway:Stats:Interval" },
        { "Gateway:Health:RingSaturation", "2", "Gateway:Health:RingSaturation" },
        { "Gateway:Health:RingSaturation", "most", "Gateway:Health:RingSaturation must be a number" },
        { "Gateway:Engine:Kind", "postgres", "Gateway:Engine:Kind" },
        { "Gateway:Engine:Replicas", "0", "Gateway:Engine:Replicas" },
        { "Gateway:Http:ForwardedHeaders:KnownProxies:0", "haproxy.internal", "Gateway:Http:ForwardedHeaders:KnownProxies:0" },
        { "Gateway:Http:ForwardedHeaders:KnownProxies:0", "10.0.0.0/33", "Gateway:Http:ForwardedHeaders:KnownProxies:0" },
        { "Gateway:Http:ForwardedHeaders:KnownProxies:0", "10.0.0.1/8", "Gateway:Http:ForwardedHeaders:KnownProxies:0" },
    };

    [Fact]
    public async Task A_redis_engine_without_configuration_or_unreachable_refuses_to_start_naming_the_setting()
    {
        var missing = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Engine:Kind"] = "redis" }));
        Assert.Contains(missing.Failures, f => f.Contains("Gateway:Engine:Redis:Configuration", StringComparison.Ordinal));

        // Port 1 on loopback: nothing listens, the connection is refused at once.
        var unreachable = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Engine:Kind"] = "redis",
            ["Gateway:Engine:Redis:Configuration"] = "127.0.0.1:1,password=secret-value",
            ["Gateway:Engine:Redis:OperationTimeout"] = "00:00:01",
        }));
        Assert.Contains(unreachable.Failures, f => f.Contains("Gateway:Engine:Redis:Configuration", StringComparison.Ordinal));
        Assert.DoesNotContain(unreachable.Failures, f => f.Contains("secret-value", StringComparison.Ordinal));
    }

    [Fact]
    public async Task More_than_one_replica_on_the_in_memory_engine_refuses_to_start_naming_both_settings()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["Gateway:Engine:Kind"] = "memory",
            ["Gateway:Engine:Replicas"] = "3",
        }));
        var failure = Assert.Single(error.Failures, f => f.Contains("Gateway:Engine:Replicas", StringComparison.Ordinal));
        Assert.Contains("Gateway:Engine:Kind", failure, StringComparison.Ordinal);
        Assert.Contains("Gateway:Engine:Kind=redis", failure, StringComparison.Ordinal);

        // The default engine is the in-memory one: declaring replicas alone is enough to be refused.
        var byDefault = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayServer.StartAsync(new Dictionary<string, string?> { ["Gateway:Engine:Replicas"] = "2" }));
        Assert.Contains(byDefault.Failures, f => f.Contains("Gateway:Engine:Replicas", StringComparison.Ordinal) && f.Contains("'memory'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_executable_exits_with_code_2_and_names_both_settings_for_replicas_on_the_in_memory_engine()
    {
        // The same check through Program.Main: what an operator (or a pod's restart loop) sees.
        var gatewayDll = Path.Combine(AppContext.BaseDirectory, "gateway.dll");
        Assert.True(File.Exists(gatewayDll), $"{gatewayDll} is built next to the tests");
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(gatewayDll);
        start.ArgumentList.Add("--urls=http://127.0.0.1:0");
        start.ArgumentList.Add("--Gateway:Tcp:Enabled=false");
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        start.Environment["Gateway__Auth__DevKeyFile"] = Path.Combine(Path.GetTempPath(), $"archmesh-replicas-{Guid.NewGuid():N}.json");
        start.Environment["Gateway__Engine__Replicas"] = "3";
        using var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("could not start the gateway");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        var errors = await stderr;
        Assert.True(process.ExitCode == 2, $"exit code {process.ExitCode}; stderr: {errors}; stdout: {await stdout}");
        Assert.Contains("Gateway:Engine:Replicas is 3 but Gateway:Engine:Kind is 'memory'", errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task One_replica_on_the_in_memory_engine_in_kubernetes_starts_with_a_warning()
    {
        // A pod sees KUBERNETES_SERVICE_HOST but not its Deployment's replica count: warn, do not refuse.
        await using var server = await GatewayServer.StartAsync(new Dictionary<string, string?>
        {
            ["KUBERNETES_SERVICE_HOST"] = "10.96.0.1",
            ["Gateway:Engine:Replicas"] = "1",
        });
        Assert.Contains(server.LogLines, l => l.Contains("Running in Kubernetes with Gateway:Engine:Kind=memory", StringComparison.Ordinal));

        await using var outside = await GatewayServer.StartAsync();
        Assert.DoesNotContain(outside.LogLines, l => l.Contains("Running in Kubernetes", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task Invalid_settings_refuse_to_start_with_a_message_naming_the_setting(string key, string value, string named)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayServer.StartAsync(new Dictionary<string, string?> { [key] = value }));
        Assert.Contains(error.Failures, f => f.Contains(named, StringComparison.Ordinal));
    }
}
