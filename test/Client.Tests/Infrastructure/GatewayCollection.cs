namespace Gateway.Client.Tests.Infrastructure;

/// <summary>
/// Gateway tests run one class at a time: each starts real hosts and the machine has 2 shared cores.
/// </summary>
[CollectionDefinition(Name)]
public sealed class GatewayCollection
{
    public const string Name = "gateway";
}
