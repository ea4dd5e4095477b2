namespace Gateway.Client.Tests.Infrastructure;

/// <summary>One gateway shared by the tests of a class (each test uses its own users and topics).</summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    private TestGateway? _gateway;

    public TestGateway Gateway => _gateway ?? throw new InvalidOperationException("Not started.");

    public async Task InitializeAsync() => _gateway = await TestGateway.StartAsync(nodeId: "node-shared");

    public async Task DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }
    }
}
