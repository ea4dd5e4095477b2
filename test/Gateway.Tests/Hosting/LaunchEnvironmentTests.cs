using Gateway.Hosting;

namespace Gateway.Tests.Hosting;

/// <summary>The launch profile's default environment never overrides one the caller set.</summary>
public sealed class LaunchEnvironmentTests
{
    [Theory]
    [InlineData("Development", null, null, new string[0], "Development")]
    [InlineData(null, null, null, new string[0], null)]
    [InlineData("Development", "Production", null, new string[0], null)]
    [InlineData("Development", null, "Staging", new string[0], null)]
    [InlineData("Development", null, null, new[] { "--environment", "Production" }, null)]
    [InlineData("Development", null, null, new[] { "--environment=Production" }, null)]
    [InlineData("Development", "", null, new[] { "--urls", "http://127.0.0.1:0" }, "Development")]
    public void Default_applies_only_when_nothing_else_names_the_environment(string? fallback, string? aspnetcore, string? dotnet, string[] args, string? expected)
    {
        var variables = new Dictionary<string, string?>
        {
            [LaunchEnvironment.DefaultVariable] = fallback,
            ["ASPNETCORE_ENVIRONMENT"] = aspnetcore,
            ["DOTNET_ENVIRONMENT"] = dotnet,
        };
        Assert.Equal(expected, LaunchEnvironment.Resolve(args, name => variables.GetValueOrDefault(name)));
    }
}
