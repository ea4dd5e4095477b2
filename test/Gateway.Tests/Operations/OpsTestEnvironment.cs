using System.Diagnostics;
using Gateway.Tests.Shared;

namespace Gateway.Tests.Operations;

/// <summary>Paths, ports and polling shared by the operations tests.</summary>
internal static class OpsTestEnvironment
{
    /// <summary>The repository root (the directory holding Gateway.sln).</summary>
    public static string RepositoryRoot => TestRepository.Root;

    /// <summary>Where artifacts (screenshots) go: $TEST_RESULTS or artifacts/test-results under the repository.</summary>
    public static string ArtifactsDirectory
    {
        get
        {
            var configured = Environment.GetEnvironmentVariable("TEST_RESULTS");
            var dir = string.IsNullOrEmpty(configured)
                ? Path.Combine(RepositoryRoot, "artifacts", "test-results")
                : Path.GetFullPath(configured, RepositoryRoot);
            Directory.CreateDirectory(dir);
            return dir;
        }
    }

    /// <summary>A TCP port on 127.0.0.1 that was free a moment ago.</summary>
    public static int FreePort() => ServerProcess.FreeLoopbackPort();

    /// <summary>Polls <paramref name="probe"/> until it returns a value or the deadline passes (then fails with <paramref name="what"/>).</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, string what)
        where T : class
    {
        var watch = Stopwatch.StartNew();
        Exception? last = null;
        while (watch.Elapsed < timeout)
        {
            try
            {
                var value = await probe();
                if (value is not null)
                {
                    return value;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException or InvalidOperationException or System.Text.Json.JsonException or KeyNotFoundException)
            {
                last = ex;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250));
        }

        throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for {what}." + (last is null ? "" : $" Last error: {last.Message}"));
    }

    /// <summary>Runs a program to completion (bounded) and returns its exit code and combined output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var (exitCode, output, error) = await ServerProcess.RunToEndAsync(fileName, arguments, timeout, "see test/prereqs.sh");
        return (exitCode, output + error);
    }
}
