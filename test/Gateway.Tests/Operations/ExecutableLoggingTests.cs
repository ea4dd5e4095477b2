using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gateway.Tests.Infrastructure;

namespace Gateway.Tests.Operations;

/// <summary>
/// The real executable (gateway.dll, as systemd or a container runs it): compact JSON on stdout in
/// Production, readable text in Development, node id on every line, no secret on any line.
/// </summary>
public sealed class ExecutableLoggingTests
{
    [Fact]
    public async Task Production_writes_compact_json_lines_with_the_node_id_and_no_secrets()
    {
        var lines = await RunUntilStartedAsync("Production", IsStartedLine);

        Assert.NotEmpty(lines);
        foreach (var line in lines)
        {
            using var json = JsonDocument.Parse(line);
            Assert.True(json.RootElement.TryGetProperty("@t", out _), line);
            Assert.True(json.RootElement.TryGetProperty("@m", out _), line);
            Assert.Equal("exe-node", json.RootElement.GetProperty("NodeId").GetString());
        }

        var all = string.Join('\n', lines);
        Assert.DoesNotContain(GatewayServer.SigningSecret, all, StringComparison.Ordinal);
        Assert.DoesNotContain(GatewayServer.ApiKey, all, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Development_writes_readable_text_lines_with_the_node_id()
    {
        var lines = await RunUntilStartedAsync("Development", IsStartedLine);

        var started = Assert.Single(lines, IsStartedLine);
        Assert.Matches(@"^\[\d\d:\d\d:\d\d\.\d{3} INF\] exe-node Gateway: ", started);
        Assert.DoesNotContain(lines, l => l.StartsWith('{'));
    }

    // The host's start event ("Gateway node ... started: WebSocket at ..."), logged once the sockets are bound.
    private static bool IsStartedLine(string line) =>
        line.Contains("Gateway node", StringComparison.Ordinal) && line.Contains("started", StringComparison.Ordinal);

    private static async Task<List<string>> RunUntilStartedAsync(string environment, Func<string, bool> isStarted)
    {
        var home = Directory.CreateTempSubdirectory("archmesh-exe-home-");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "gateway.dll"));
        foreach (var arg in new[]
        {
            "--urls", "http://127.0.0.1:0",
            "--Gateway:NodeId=exe-node",
            "--Gateway:Tcp:Port=0",
            "--Gateway:Auth:SigningKeys:0:Id=exe",
            "--Gateway:Auth:SigningKeys:0:Algorithm=HS256",
            "--Gateway:Auth:SigningKeys:0:Secret=" + GatewayServer.SigningSecret,
            "--Gateway:Auth:ApiKeys:0:Name=exe",
            "--Gateway:Auth:ApiKeys:0:Sha256=" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(GatewayServer.ApiKey))),
        })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["ASPNETCORE_ENVIRONMENT"] = environment;
        start.Environment["DOTNET_ENVIRONMENT"] = environment;
        start.Environment["HOME"] = home.FullName; // Development writes its generated dev keys under $HOME
        start.Environment.Remove("Logging__Console__FormatterName");

        var lines = new List<string>();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stderr = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (lines)
            {
                lines.Add(e.Data);
            }

            if (isStarted(e.Data))
            {
                started.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }
        };
        Assert.True(process.Start());
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var exited = process.WaitForExitAsync();
            var first = await Task.WhenAny(started.Task, exited, Task.Delay(TimeSpan.FromSeconds(120)));
            Assert.True(first == started.Task, $"the gateway did not log its start (exited: {process.HasExited}). stdout:\n{string.Join('\n', lines)}\nstderr:\n{stderr}");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            try
            {
                home.Delete(recursive: true);
            }
            catch (IOException)
            {
                // Best effort.
            }
        }

        lock (lines)
        {
            return [.. lines];
        }
    }
}
