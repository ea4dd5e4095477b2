using Microsoft.AspNetCore.Hosting;

namespace Gateway.Hosting;

/// <summary>
/// Takes the standard listener settings (<c>--urls</c>, <c>--http_ports</c>, <c>--https_ports</c> and
/// <c>ASPNETCORE_URLS</c>, <c>ASPNETCORE_HTTP_PORTS</c>, <c>ASPNETCORE_HTTPS_PORTS</c>) away from the host
/// before it is created. <see cref="KestrelEndpoints"/> binds them itself (next to the raw TCP listener);
/// the host captures these settings when the builder is created, before any configuration code can clear
/// them, and hands them to Kestrel as addresses, which Kestrel then ignores with an "Overriding
/// address(es)" warning on every start. The values are given back as ordinary configuration.
/// </summary>
public static class HostingUrls
{
    private static readonly string[] Keys = [WebHostDefaults.ServerUrlsKey, WebHostDefaults.HttpPortsKey, WebHostDefaults.HttpsPortsKey];

    /// <summary>
    /// Removes the settings from <paramref name="args"/> and from this process's environment.
    /// </summary>
    /// <returns>The remaining arguments and the settings (the command line wins over the environment).</returns>
    public static (string[] Args, Dictionary<string, string?> Settings) Take(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var key in Keys)
        {
            var variable = "ASPNETCORE_" + key.ToUpperInvariant();
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value)
            {
                settings[key] = value;
                Environment.SetEnvironmentVariable(variable, null);
            }
        }

        var rest = new List<string>(args.Length);
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            var name = arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..] : arg.StartsWith('/') ? arg[1..] : null;
            var equals = name?.IndexOf('=', StringComparison.Ordinal) ?? -1;
            var key = equals >= 0 ? name![..equals] : name;
            if (key is null || !Keys.Contains(key, StringComparer.OrdinalIgnoreCase))
            {
                rest.Add(arg);
                continue;
            }

            if (equals >= 0)
            {
                settings[key] = name![(equals + 1)..];
            }
            else if (i + 1 < args.Length)
            {
                settings[key] = args[++i];
            }
        }

        return ([.. rest], settings);
    }
}
