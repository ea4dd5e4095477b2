namespace Gateway.Tests.Hostile;

/// <summary>
/// The hostile-client suite (issue 14 item 11, <see cref="HostileClientTests"/>): one gateway for every case, and
/// no other test collection running at the same time (the RSS it checks is the whole test process's).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HostileCollection : ICollectionFixture<HostileFixture>
{
    /// <summary>The collection name.</summary>
    public const string Name = "Hostile clients";
}
