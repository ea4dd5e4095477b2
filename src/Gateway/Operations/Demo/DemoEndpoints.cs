using System.Reflection;
using Gateway.Auth;
using Gateway.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Operations.Demo;

/// <summary>
/// The browser demo at <c>/demo</c>: a page using the TypeScript client's browser bundle
/// (<c>wwwroot/demo/gateway-client.js</c>, built from <c>clients/typescript</c> and committed so
/// <c>dotnet run</c> needs no npm), served from resources embedded in the gateway assembly, and
/// <c>/demo/token</c>, which mints the page a short-lived token. Mapped in Development only: in any other
/// environment both answer 404, so no deployment hands out tokens to whoever asks.
/// </summary>
internal static class DemoEndpoints
{
    /// <summary>Lifetime of a page token; the client asks for a new one before it expires.</summary>
    public static readonly TimeSpan TokenLifetime = TimeSpan.FromMinutes(15);

    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
    };

    /// <summary>Maps <c>/demo</c>, <c>/demo/{file}</c> and <c>/demo/token</c>. Call only in Development.</summary>
    public static void MapDemo(this IEndpointRouteBuilder endpoints)
    {
        var files = LoadFiles(typeof(DemoEndpoints).Assembly);
        endpoints.MapGet("/demo", (HttpContext context) => Serve(context, files, "index.html")).ExcludeFromDescription();
        endpoints.MapGet("/demo/token", MintToken).ExcludeFromDescription();
        endpoints.MapGet("/demo/{file}", (HttpContext context, string file) => Serve(context, files, file)).ExcludeFromDescription();
    }

    private static IResult MintToken(HttpContext context, string? user, AuthKeyRing keys, IOptions<GatewayOptions> options)
    {
        user = string.IsNullOrWhiteSpace(user) ? "alice" : user.Trim();
        if (user.Length > 64 || !user.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "invalid_user", detail: "user: 1-64 characters of letters, digits, '-', '_' or '.'.");
        }

        // The dev key (or the first configured HS256 key): the same keys the node validates with.
        if (keys.SigningKeysInUse.OfType<SymmetricSecurityKey>().FirstOrDefault() is not { } key)
        {
            return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "no_hs256_key", detail: "The demo mints HS256 tokens; this node has only public keys configured.");
        }

        context.Response.Headers.CacheControl = "no-store";
        var auth = options.Value.Auth;
        var token = TokenMinter.Mint(key.Key, auth.Issuer, auth.Audience, user, ["workflow:*"], null, TokenLifetime, key.KeyId);
        return Results.Text(token, "text/plain; charset=utf-8");
    }

    private static Dictionary<string, byte[]> LoadFiles(Assembly assembly)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith("demo/", StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            files[name["demo/".Length..]] = buffer.ToArray();
        }

        return files;
    }

    private static IResult Serve(HttpContext context, Dictionary<string, byte[]> files, string file)
    {
        if (!files.TryGetValue(file, out var content) || !ContentTypes.TryGetValue(Path.GetExtension(file), out var type))
        {
            return Results.NotFound();
        }

        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        context.Response.Headers.ContentSecurityPolicy = "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'";
        return Results.Bytes(content, type);
    }
}
