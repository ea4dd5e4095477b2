using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Gateway.Tests.Hosting;

/// <summary>
/// <c>dotnet run --project src/Gateway</c> as a user runs it (the launch profile applies): Development by
/// default, but an explicit <c>ASPNETCORE_ENVIRONMENT</c> wins, and <c>ASPNETCORE_URLS</c> and
/// <c>Gateway__Tcp__Port</c> choose the ports. Uses the build the test run already made (<c>--no-build</c>).
/// </summary>
public sealed class LaunchProfileTests : IDisposable
{
    private readonly DirectoryInfo _home = Directory.CreateTempSubdirectory("gateway-launch-");

    public void Dispose() => _home.Delete(recursive: true);

    [Fact]
    public async Task Production_with_dotnet_run_refuses_to_start_without_keys_naming_the_settings()
    {
        var (exit, output) = await RunAsync(new() { ["ASPNETCORE_ENVIRONMENT"] = "Production" }, until: null);
        Assert.Equal(2, exit);
        Assert.Contains("Gateway:Auth:SigningKeys is empty: the Production environment refuses to start", output, StringComparison.Ordinal);
        Assert.Contains("Gateway:Auth:ApiKeys is empty", output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_home.FullName, ".archmesh", "dev-keys.json")), "no dev keys outside Development");
    }

    [Fact]
    public async Task Dotnet_run_defaults_to_Development_and_takes_its_ports_from_ASPNETCORE_URLS_and_Gateway__Tcp__Port()
    {
        var http = FreePort();
        var tcp = FreePort();
        var (exit, output) = await RunAsync(
            new()
            {
                ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{http}",
                ["Gateway__Tcp__Port"] = tcp.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Gateway__Tcp__BindAddress"] = "127.0.0.1",
            },
            until: async () =>
            {
                using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}/"), Timeout = TimeSpan.FromSeconds(5) };
                using var live = await client.GetAsync("/health/live");
                Assert.Equal(HttpStatusCode.OK, live.StatusCode);
                using var socket = new TcpClient();
                await socket.ConnectAsync(IPAddress.Loopback, tcp);
            });

        Assert.Equal(-1, exit); // still running until stopped
        Assert.Contains("DEVELOPMENT KEYS IN USE", output, StringComparison.Ordinal);
        Assert.Contains("Hosting environment: Development", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Overriding address", output, StringComparison.Ordinal);
        Assert.DoesNotContain(":5080", output, StringComparison.Ordinal);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Runs the gateway with <c>dotnet run</c>. With <paramref name="until"/>: retries it until it passes
    /// (the node is up), then stops the process and returns -1; without: waits for the exit code.
    /// </summary>
    private async Task<(int Exit, string Output)> RunAsync(Dictionary<string, string> environment, Func<Task>? until)
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Gateway.sln")))
        {
            root = Path.GetDirectoryName(root.TrimEnd(Path.DirectorySeparatorChar)) ?? throw new InvalidOperationException("repository root not found");
        }

        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "run", "--no-build", "-c", configuration, "--project", "src/Gateway" })
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var name in new[] { "ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT", "ASPNETCORE_URLS", "ASPNETCORE_HTTP_PORTS", "GATEWAY_DEFAULT_ENVIRONMENT" })
        {
            start.Environment.Remove(name);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        start.Environment["HOME"] = _home.FullName; // Development writes its dev keys under $HOME
        start.Environment["Gateway__Logging__Format"] = "text";
        if (!environment.ContainsKey("Gateway__Tcp__Port"))
        {
            start.Environment["Gateway__Tcp__Port"] = "0";
        }

        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        Assert.True(process.Start());
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string Text() { lock (output) { return output.ToString(); } }
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            if (until is null)
            {
                await process.WaitForExitAsync(deadline.Token);
                process.WaitForExit(); // drains the redirected streams
                return (process.ExitCode, Text());
            }

            while (true)
            {
                if (process.HasExited)
                {
                    Assert.Fail($"the gateway exited ({process.ExitCode}):\n{Text()}");
                }
                try
                {
                    await until();
                    break;
                }
                catch (Exception e) when (e is HttpRequestException or SocketException or TaskCanceledException && !deadline.IsCancellationRequested)
                {
                    await Task.Delay(250, deadline.Token);
                }
            }

            // The start line is logged once every listener is bound.
            while (!Text().Contains("Hosting environment", StringComparison.Ordinal))
            {
                await Task.Delay(100, deadline.Token);
            }

            return (-1, Text());
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"timed out:\n{Text()}");
            throw;
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }
        }
    }
}
