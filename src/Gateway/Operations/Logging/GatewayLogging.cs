using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Extensions.Hosting;
using Serilog.Extensions.Logging;
using Serilog.Formatting.Compact;

namespace Gateway.Operations.Logging;

/// <summary>
/// Serilog wiring. Serilog is added as a Microsoft.Extensions.Logging provider (replacing the default
/// console provider), so the usual <c>Logging:LogLevel</c> filters keep working and other providers
/// (tests capture logs through one) still receive every event. The Serilog logger is configured from the
/// <c>Serilog</c> section (minimum level, default Information; extra sinks; enrichers) and from any <see cref="ILogEventSink"/>
/// registered in DI; its console sink writes compact JSON outside Development and readable text in
/// Development (<c>Gateway:Logging:Format</c> = <c>json</c> | <c>text</c> overrides;
/// <c>Gateway:Logging:Console</c> = <c>false</c> turns it off). Every event carries <c>NodeId</c>,
/// log-scope properties (the host's <c>ConnectionId</c> scope) and passes through secret redaction.
/// </summary>
internal static class GatewayLogging
{
    /// <summary>Readable console layout for Development.</summary>
    public const string TextTemplate =
        "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {NodeId} {SourceContext}: {Message:lj}{NewLine}{Exception}";

    /// <summary>Registers the Serilog logger, the provider and Serilog's diagnostic context.</summary>
    public static void AddGatewaySerilog(this WebApplicationBuilder builder)
    {
        var environment = builder.Environment;
        RemoveDefaultConsole(builder.Services);

        builder.Services.AddSingleton<Logger>(sp =>
        {
            // Read when the first logger is created: tests and callers may add configuration after
            // AddGatewayOperations ran.
            var configuration = sp.GetRequiredService<IConfiguration>();
            var format = configuration["Gateway:Logging:Format"];
            var json = format is null ? !environment.IsDevelopment() : string.Equals(format, "json", StringComparison.OrdinalIgnoreCase);
            var nodeId = new Lazy<string>(() => GatewayProbe.ResolveConfiguredNodeId(configuration));

            var logger = new LoggerConfiguration()
                .MinimumLevel.Information()
                .ReadFrom.Configuration(configuration)
                .ReadFrom.Services(sp)
                .Enrich.FromLogContext()
                .Enrich.With(new NodeIdEnricher(nodeId))
                .Enrich.With(new SecretRedactionEnricher());
            if (configuration.GetValue("Gateway:Logging:Console", true))
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

            return logger.CreateLogger();
        });
        builder.Services.AddSingleton<ILoggerProvider>(sp => new SerilogLoggerProvider(sp.GetRequiredService<Logger>(), dispose: true));
        builder.Services.AddSingleton(sp => new DiagnosticContext(sp.GetRequiredService<Logger>()));
        builder.Services.AddSingleton<IDiagnosticContext>(sp => sp.GetRequiredService<DiagnosticContext>());
    }

    /// <summary>
    /// Adds Serilog's request log: one event per HTTP request (method, path without query string, status,
    /// elapsed). Probes, scrapes and dashboard polls log at Verbose (dropped at the default level).
    /// </summary>
    public static void UseGatewayRequestLogging(this WebApplication app)
    {
        var logger = app.Services.GetRequiredService<Logger>();
        app.UseSerilogRequestLogging(options =>
        {
            options.Logger = logger;
            options.GetLevel = (context, _, exception) => RequestLevel(context, exception);
            options.EnrichDiagnosticContext = (diagnostics, context) =>
            {
                // Deliberately no headers and no query string: credentials travel there.
                diagnostics.Set("RemoteIp", context.Connection.RemoteIpAddress?.ToString());
                diagnostics.Set("WebSocket", context.WebSockets.IsWebSocketRequest);
            };
        });
    }

    /// <summary>
    /// Errors at Error; probes, scrapes and dashboard polls at Verbose; successful publishes through the HTTP
    /// API at Debug (a busy backend would otherwise write one line per message); everything else, refusals
    /// (4xx) included, at Information.
    /// </summary>
    internal static LogEventLevel RequestLevel(HttpContext context, Exception? exception)
    {
        var status = context.Response.StatusCode;
        if (exception is not null || status >= StatusCodes.Status500InternalServerError)
        {
            return LogEventLevel.Error;
        }

        if (IsQuietPath(context.Request.Path))
        {
            return LogEventLevel.Verbose;
        }

        return status < StatusCodes.Status400BadRequest && HttpMethods.IsPost(context.Request.Method)
            && context.Request.Path.StartsWithSegments("/api/v1", StringComparison.OrdinalIgnoreCase)
            ? LogEventLevel.Debug
            : LogEventLevel.Information;
    }

    private static bool IsQuietPath(PathString path) =>
        path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/api/v1/stats", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/dashboard", StringComparison.OrdinalIgnoreCase);

    private static void RemoveDefaultConsole(IServiceCollection services)
    {
        // Serilog owns the console; the default provider would print every line a second time.
        for (var i = services.Count - 1; i >= 0; i--)
        {
            var d = services[i];
            if (d.ServiceType == typeof(ILoggerProvider) && !d.IsKeyedService && d.ImplementationType == typeof(ConsoleLoggerProvider))
            {
                services.RemoveAt(i);
            }
        }
    }
}
