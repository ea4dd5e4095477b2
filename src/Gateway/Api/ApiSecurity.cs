using System.Globalization;
using System.Threading.RateLimiting;
using Gateway.Auth;
using Gateway.Configuration;
using Gateway.Protocol.Errors;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Gateway.Api;

/// <summary>
/// The HTTP security layer, the framework's way: API keys and publisher tokens are authentication schemes
/// (<see cref="ApiKeyAuthenticationHandler"/>, <see cref="PublisherTokenAuthenticationHandler"/>), every endpoint
/// names an authorization policy (<see cref="ApiPolicies"/>), the publish API is rate limited per authenticated
/// caller (ASP.NET Core's rate limiter, <c>Gateway:Http:RateLimit</c>), and the operations endpoints can move to a
/// management listener (<see cref="ManagementListener"/>).
/// </summary>
public static class ApiSecurity
{
    private static readonly string[] Schemes = [ApiKeyAuthenticationHandler.SchemeName, PublisherTokenAuthenticationHandler.SchemeName];

    /// <summary>Registers the schemes, policies, rate limiter and <c>Gateway:Management</c> options.</summary>
    public static WebApplicationBuilder AddGatewayApiSecurity(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<ManagementOptions>()
            .Bind(builder.Configuration.GetSection(ManagementOptions.SectionName))
            .Validate(o => !o.HasListener || o.Urls!.Contains("://", StringComparison.Ordinal), "Gateway:Management:Urls must be URLs such as http://127.0.0.1:5082 (';'-separated).")
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<GatewayOptions>, ApiKeyScopesValidator>();
        services.AddSingleton<ApiRefusalLog>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, ApiAuthorizationResultHandler>();

        // No default scheme: only endpoints whose policy names the schemes authenticate (not /ws, /health, ...).
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null)
            .AddScheme<AuthenticationSchemeOptions, PublisherTokenAuthenticationHandler>(PublisherTokenAuthenticationHandler.SchemeName, null);
        services.AddAuthorization();
        services.AddOptions<AuthorizationOptions>().Configure<IOptions<ManagementOptions>, IHostEnvironment>((authorization, management, environment) =>
        {
            authorization.AddPolicy(ApiPolicies.Publish, ScopePolicy(ApiScopes.Publish));
            authorization.AddPolicy(ApiPolicies.Admin, ScopePolicy(ApiScopes.Admin));
            authorization.AddPolicy(ApiPolicies.Operations, management.Value.AdminKeyRequired(environment.IsProduction())
                ? ScopePolicy(ApiScopes.Admin)
                : new AuthorizationPolicyBuilder().RequireAssertion(_ => true).Build());
        });

        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<GatewayOptions>, ApiRefusalLog>((limiter, gateway, refusals) =>
        {
            var limit = gateway.Value.Http.RateLimit;
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(ApiPolicies.PerCaller, context =>
            {
                // Authorization ran first, so every request here has a caller; the address is a fallback only.
                var key = ApiCaller.Find(context)?.Name ?? "address " + context.Connection.RemoteIpAddress;
                return limit.Enabled
                    ? RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = limit.Burst,
                        TokensPerPeriod = limit.RequestsPerSecond,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                    })
                    : RateLimitPartition.GetNoLimiter(key);
            });
            limiter.OnRejected = (rejected, _) =>
            {
                var context = rejected.HttpContext;
                var seconds = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
                    ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
                    : 1;
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                var detail = $"Over this caller's rate limit ({limit.RequestsPerSecond} requests/s, burst {limit.Burst}: Gateway:Http:RateLimit); retry after {seconds} s.";
                refusals.Refused(context, StatusCodes.Status429TooManyRequests, ErrorCatalog.Get(ErrorCode.RateLimited).Name, detail);
                return new ValueTask(ApiProblem.For(ErrorCode.RateLimited, detail).ExecuteAsync(context));
            };
        });
        return builder;
    }

    /// <summary>
    /// Adds routing, the management listener's gate, authentication, authorization and the rate limiter, in that
    /// order (the limiter partitions by the caller authorization let through).
    /// </summary>
    public static WebApplication UseGatewayApiSecurity(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseRouting();
        app.UseManagementListener();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();

        var management = app.Services.GetRequiredService<IOptions<ManagementOptions>>().Value;
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Gateway.Api");
        ApiLog.OperationsEndpoints(
            logger,
            management.HasListener ? "management listener " + management.Urls + " only" : "public listener",
            management.AdminKeyRequired(app.Environment.IsProduction()) ? "API key with the admin scope required" : "open (Gateway:Management:RequireAdminKey=false or not Production)");
        return app;
    }

    private static AuthorizationPolicy ScopePolicy(ApiScopes scope) => new AuthorizationPolicyBuilder(Schemes)
        .RequireAuthenticatedUser()
        .AddRequirements(new ApiScopeRequirement(scope))
        .Build();
}
