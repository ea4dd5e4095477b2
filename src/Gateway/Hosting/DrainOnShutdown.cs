using Microsoft.Extensions.Hosting;

namespace Gateway.Hosting;

/// <summary>
/// Runs the drain when the host stops (SIGTERM / Ctrl+C), in <c>StoppingAsync</c>, i.e. before
/// Kestrel and the other services stop, so connections still get GoAway and their flushed queues.
/// </summary>
internal sealed class DrainOnShutdown(GatewayLifetime lifetime) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => lifetime.DrainAsync("shutdown").WaitAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
