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
        { "Gateway:Engine:Kind", "postgres", "Gateway:Engine:Kind" },
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

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task Invalid_settings_refuse_to_start_with_a_message_naming_the_setting(string key, string value, string named)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => GatewayServer.StartAsync(new Dictionary<string, string?> { [key] = value }));
        Assert.Contains(error.Failures, f => f.Contains(named, StringComparison.Ordinal));
    }
}
