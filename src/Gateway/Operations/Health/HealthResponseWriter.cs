using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Operations.Health;

/// <summary>
/// Writes a health report as JSON for humans (status, node, each check with its description and data).
/// Orchestrators look at the status code: 200 for Healthy/Degraded, 503 for Unhealthy. The overall status
/// is also sent in the <see cref="StatusHeader"/> header, so a load balancer that can fall back when no
/// node is Healthy (HAProxy, deploy/haproxy) can take Degraded nodes out of its rotation without parsing
/// the body (docs/operations.md, "Readiness and load balancers").
/// </summary>
internal static class HealthResponseWriter
{
    /// <summary>Response header carrying the overall status: <c>Healthy</c>, <c>Degraded</c> or <c>Unhealthy</c>.</summary>
    public const string StatusHeader = "X-Health-Status";

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>Writes <paramref name="report"/> for the node <paramref name="nodeId"/>.</summary>
    public static Task WriteAsync(HttpContext context, HealthReport report, string nodeId)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers[StatusHeader] = report.Status.ToString();
        var body = new
        {
            status = report.Status.ToString(),
            node = nodeId,
            durationMs = Math.Round(report.TotalDuration.TotalMilliseconds, 2),
            checks = report.Entries.ToDictionary(
                e => e.Key,
                e => new
                {
                    status = e.Value.Status.ToString(),
                    description = e.Value.Description,
                    durationMs = Math.Round(e.Value.Duration.TotalMilliseconds, 2),
                    data = e.Value.Data,
                    error = e.Value.Exception?.Message,
                }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, JsonOptions), context.RequestAborted);
    }
}
