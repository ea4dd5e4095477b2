using Gateway.Dispatch;

namespace Gateway.Hosting;

/// <summary>
/// Creates the dispatcher (and its engine: for Redis, the first connection) while the host starts, after the
/// configuration was validated and before Kestrel accepts anyone, instead of on the first request: a node
/// that cannot reach Redis then refuses to start, and a burst of first connections never waits on it.
/// </summary>
internal sealed class DispatcherStartup(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = services.GetRequiredService<Dispatcher>();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
