using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Gateway.Operations.Dashboard;

/// <summary>
/// Serves the live dashboard (plain HTML/CSS/JS, no build step, no CDN) from resources embedded in the
/// gateway assembly, so it works wherever the binary runs, whatever the content root.
/// </summary>
internal static class DashboardEndpoints
{
    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
    };

    /// <summary>Maps <c>/dashboard</c> (the page) and <c>/dashboard/{file}</c> (its scripts and styles).</summary>
    public static void MapDashboard(this IEndpointRouteBuilder endpoints)
    {
        var assembly = typeof(DashboardEndpoints).Assembly;
        var files = LoadFiles(assembly);

        endpoints.MapGet("/dashboard", (HttpContext context) => Serve(context, files, "index.html")).ExcludeFromDescription();
        endpoints.MapGet("/dashboard/{file}", (HttpContext context, string file) => Serve(context, files, file)).ExcludeFromDescription();
    }

    private static Dictionary<string, byte[]> LoadFiles(Assembly assembly)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith("dashboard/", StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            files[name["dashboard/".Length..]] = buffer.ToArray();
        }

        return files;
    }

    private static IResult Serve(HttpContext context, Dictionary<string, byte[]> files, string file)
    {
        if (file.Length == 0)
        {
            file = "index.html";
        }

        if (!files.TryGetValue(file, out var content) || !ContentTypes.TryGetValue(Path.GetExtension(file), out var type))
        {
            return Results.NotFound();
        }

        // The page is tiny; always revalidate so an upgraded node never serves a stale script.
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        context.Response.Headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'";
        return Results.Bytes(content, type);
    }
}
