namespace Gateway.Hosting;

/// <summary>
/// Picks the hosting environment when the caller did not name one. <c>dotnet run</c> applies the launch
/// profile's variables over the caller's own, so the profile cannot set <c>ASPNETCORE_ENVIRONMENT</c>
/// without overriding an explicit <c>ASPNETCORE_ENVIRONMENT=Production</c>. It sets
/// <see cref="DefaultVariable"/> instead, which only counts when neither <c>ASPNETCORE_ENVIRONMENT</c>,
/// <c>DOTNET_ENVIRONMENT</c> nor <c>--environment</c> is given. A published binary has no launch profile
/// and stays on the framework's default (Production).
/// </summary>
public static class LaunchEnvironment
{
    /// <summary>Environment variable naming the environment to use when none is set explicitly.</summary>
    public const string DefaultVariable = "GATEWAY_DEFAULT_ENVIRONMENT";

    /// <summary>The environment to impose, or null to leave the choice to the usual configuration.</summary>
    /// <param name="args">The command line (an <c>--environment</c> argument wins).</param>
    /// <param name="variable">Reads an environment variable (tests pass their own).</param>
    public static string? Resolve(IReadOnlyList<string> args, Func<string, string?> variable)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(variable);
        var fallback = variable(DefaultVariable);
        if (string.IsNullOrWhiteSpace(fallback)
            || !string.IsNullOrWhiteSpace(variable("ASPNETCORE_ENVIRONMENT"))
            || !string.IsNullOrWhiteSpace(variable("DOTNET_ENVIRONMENT")))
        {
            return null;
        }

        foreach (var arg in args)
        {
            var name = arg.TrimStart('-', '/');
            if (name.Equals("environment", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("environment=", StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }
        }

        return fallback.Trim();
    }
}
