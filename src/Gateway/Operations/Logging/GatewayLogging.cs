using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Logging.Debug;
using Microsoft.Extensions.Logging.EventSource;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace Gateway.Operations.Logging;

/// <summary>
/// Serilog wiring: configuration from the <c>Serilog</c> section (levels, extra sinks, enrichers),
/// a console sink that writes compact JSON outside Development and readable text in Development
/// (<c>Gateway:Logging:Format</c> = <c>json</c> | <c>text</c> overrides), the node id on every event,
/// log-scope properties (connection id) and secret redaction.
/// </summary>
internal static class GatewayLogging
{
    /// <summary>Readable console layout for Development.</summary>
    public const string TextTemplate =
        "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {NodeId} {SourceContext}{ConnectionId: conn=}: {Message:lj}{NewLine}{Exception}";

    /// <summary>Registers Serilog as the logging pipeline of the application.</summary>
    public static void AddGatewaySerilog(this WebApplicationBuilder builder, string nodeId)
    {
        var configuration = builder.Configuration;
        var format = configuration["Gateway:Logging:Format"];
        var json = format is null ? !builder.Environment.IsDevelopment() : string.Equals(format, "json", StringComparison.OrdinalIgnoreCase);
        var console = configuration.GetValue("Gateway:Logging:Console", true);

        // Serilog owns the console: drop the default Microsoft providers so nothing is written twice, but
        // keep any other provider someone registered (tests capture logs through their own provider), and
        // forward events to those.
        RemoveDefaultProviders(builder.Services);

        builder.Services.AddSerilog(
            (services, logger) =>
            {
                logger
                    .MinimumLevel.Information()
                    .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
                    .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
                    .MinimumLevel.Override("Serilog.AspNetCore.RequestLoggingMiddleware", LogEventLevel.Information)
                    .ReadFrom.Configuration(configuration)
                    .ReadFrom.Services(services)
                    .Enrich.FromLogContext()
                    .Enrich.WithProperty("NodeId", nodeId)
                    .Enrich.With(new SecretRedactionEnricher());
                if (console)
                {
                    if (json)
                    {
                        logger.WriteTo.Console(new RenderedCompactJsonFormatter());
                    }
                    else
                    {
                        logger.WriteTo.Console(outputTemplate: TextTemplate, formatProvider: System.Globalization.CultureInfo.InvariantCulture);
                    }
                }
            },
            preserveStaticLogger: true,
            writeToProviders: true);
    }

    /// <summary>
    /// Adds Serilog's request log: one event per HTTP request (method, path without query string, status,
    /// elapsed). Probes and scrapes log at Verbose so they do not drown the log.
    /// </summary>
    public static void UseGatewayRequestLogging(this WebApplication app)
    {
        app.UseSerilogRequestLogging(options =>
        {
            options.GetLevel = (context, _, exception) =>
                exception is not null || context.Response.StatusCode >= StatusCodes.Status500InternalServerError
                    ? LogEventLevel.Error
                    : IsQuietPath(context.Request.Path) ? LogEventLevel.Verbose : LogEventLevel.Information;
            options.EnrichDiagnosticContext = (diagnostics, context) =>
            {
                // Deliberately no headers and no query string: credentials travel there.
                diagnostics.Set("RemoteIp", context.Connection.RemoteIpAddress?.ToString());
                diagnostics.Set("WebSocket", context.WebSockets.IsWebSocketRequest);
            };
        });
    }

    private static bool IsQuietPath(PathString path) =>
        path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/api/v1/stats", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/dashboard", StringComparison.OrdinalIgnoreCase);

    private static void RemoveDefaultProviders(IServiceCollection services)
    {
        Type[] defaults = [typeof(ConsoleLoggerProvider), typeof(DebugLoggerProvider), typeof(EventSourceLoggerProvider)];
        for (var i = services.Count - 1; i >= 0; i--)
        {
            var d = services[i];
            if (d.ServiceType == typeof(ILoggerProvider) && !d.IsKeyedService && d.ImplementationType is { } t
                && (defaults.Contains(t) || t.FullName == "Microsoft.Extensions.Logging.EventLog.EventLogLoggerProvider"))
            {
                services.RemoveAt(i);
            }
        }
    }
}
