namespace Gateway.Tests.Infrastructure;

/// <summary>One gateway shared by all tests of a class (xunit class fixture) to keep the suite fast.</summary>
public class ServerFixture : IAsyncLifetime
{
    private GatewayServer? _server;

    /// <summary>The running server.</summary>
    public GatewayServer Server => _server ?? throw new InvalidOperationException("Not started.");

    /// <summary>Settings overriding the defaults for this fixture.</summary>
    protected virtual IReadOnlyDictionary<string, string?>? Settings => null;

    /// <inheritdoc />
    public async Task InitializeAsync() => _server = await GatewayServer.StartAsync(Settings);

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
