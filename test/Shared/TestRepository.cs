namespace Gateway.Tests.Shared;

/// <summary>Where the repository is, for tests that run its scripts (deploy/local/cluster.sh) or read its files.</summary>
public static class TestRepository
{
    /// <summary>The repository root (the directory holding Gateway.sln).</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Gateway.sln not found above " + AppContext.BaseDirectory);
    }
}
