using Gateway.Api;
using Gateway.Auth;
using Gateway.Configuration;
using Gateway.Dispatch;
using Gateway.Dispatch.Engines.Redis;
using Gateway.Hosting;
using Gateway.Operations;
using Gateway.Operations.Demo;
using Gateway.Transport;
using Gateway.Transport.WebSockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Gateway;

/// <summary>
/// Builds the gateway host. Used by the executable (Program.cs), the tests and any other project
/// that wants a real gateway in-process: <c>GatewayApp.Build(args, b => ...).RunAsync()</c>.
/// </summary>
public static class GatewayApp
{
    /// <summary>Creates the application with every service, listener and endpoint wired.</summary>
    /// <param name="args">Command-line arguments (configuration, <c>--urls</c>, <c>--environment</c>).</param>
    /// <param name="configure">Last chance to change the builder (tests add configuration or log providers).</param>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var environmentName = LaunchEnvironment.Resolve(args, Environment.GetEnvironmentVariable);
        (args, var listeners) = HostingUrls.Take(args);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, EnvironmentName = environmentName });
        foreach (var (key, value) in listeners)
        {
            builder.Configuration[key] = value;
        }

        var services = builder.Services;
        var section = builder.Configuration.GetSection(GatewayOptions.SectionName);

        services.AddOptions<GatewayOptions>().Bind(section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsCrossValidator>();
        services.AddOptions<DispatcherOptions>()
            .Bind(section.GetSection("Dispatch"))
            .PostConfigure<IOptions<GatewayOptions>>((dispatch, gateway) =>
            {
                if (!string.IsNullOrWhiteSpace(gateway.Value.NodeId))
                {
                    dispatch.NodeId = gateway.Value.NodeId;
                }
            })
            .ValidateOnStart();

        services.AddSingleton<IValidateOptions<DispatcherOptions>, DispatcherOptionsValidator>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => DispatchEngineFactory.Create(
            sp.GetRequiredService<IOptions<GatewayOptions>>().Value.Engine,
            sp.GetRequiredService<IOptions<DispatcherOptions>>().Value,
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetRequiredService<TimeProvider>(),
            inKubernetes: !string.IsNullOrEmpty(builder.Configuration["KUBERNETES_SERVICE_HOST"])));
        services.AddSingleton(sp =>
        {
            // The engine is a container singleton: disposed after the dispatcher, which was created after it.
            var engine = sp.GetRequiredService<IDispatchEngine>();
            var dispatcher = new Dispatcher(sp.GetRequiredService<IOptions<DispatcherOptions>>().Value, engine, loggerFactory: sp.GetRequiredService<ILoggerFactory>(), time: sp.GetRequiredService<TimeProvider>(), meterScope: sp.GetService<System.Diagnostics.Metrics.IMeterFactory>());
            dispatcher.Start();
            return dispatcher;
        });
        services.AddSingleton<AuthKeyRing>();
        services.AddSingleton<TokenAuthenticator>();
        services.AddSingleton<OriginPolicy>();
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<ConnectionLimiter>();
        services.AddSingleton<GatewayLifetime>();
        services.AddSingleton<ConnectionServices>();
        services.AddSingleton<WebSocketAdmission>();
        // Shared by every node on the Redis engine (Gateway:Engine:Kind = redis), node-local otherwise.
        services.AddSingleton<IIdempotencyStore>(sp => sp.GetRequiredService<IDispatchEngine>() is RedisDispatchEngine redis
            ? new RedisIdempotencyStore(redis.Store)
            : ActivatorUtilities.CreateInstance<InMemoryIdempotencyStore>(sp));
        services.AddSingleton<IdempotencyCache>();
        services.AddSingleton<PublishApiServices>();
        services.AddSingleton<KestrelEndpoints>();
        services.AddHostedService<DispatcherStartup>(); // first: the engine connects before anything else starts
        services.AddHostedService<DrainOnShutdown>();
        services.AddHostedService<ConnectionSweeper>();
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ApiProblem.CustomizeFrameworkProblem);
        services.AddOpenApi();
        services.Configure<JsonOptions>(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, GatewayJsonContext.Default));
        services.Configure<HostOptions>(o =>
        {
            // The host must wait for the drain (plus margin) before giving up on stopping.
            var drain = section.GetValue("Drain:Timeout", TimeSpan.FromSeconds(30));
            o.ShutdownTimeout = drain + TimeSpan.FromSeconds(10);
        });

        builder.AddGatewayOperations();
        builder.AddGatewayApiSecurity();
        configure?.Invoke(builder);

        // Read after `configure`, so tests and callers can set urls / Gateway:Tcp too.
        var urls = KestrelEndpoints.ResolveUrls(builder.Configuration);
        // KestrelEndpoints binds these itself; blanked so nothing else reads them (see HostingUrls).
        builder.Configuration[WebHostDefaults.ServerUrlsKey] = "";
        builder.Configuration[WebHostDefaults.HttpPortsKey] = "";
        builder.Configuration[WebHostDefaults.HttpsPortsKey] = "";
        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            var tcp = new TcpOptions();
            context.Configuration.GetSection(GatewayOptions.SectionName).GetSection("Tcp").Bind(tcp);
            var webSocket = new WebSocketTransportOptions();
            context.Configuration.GetSection(GatewayOptions.SectionName).GetSection("WebSocket").Bind(webSocket);
            var endpoints = kestrel.ApplicationServices.GetRequiredService<KestrelEndpoints>();
            endpoints.Configure(kestrel, urls, tcp, webSocket);
            endpoints.ConfigureManagement(kestrel, context.Configuration[ManagementOptions.SectionName + ":Urls"]);
            kestrel.AddServerHeader = false;
        });

        var app = builder.Build();
        // Gateway:Stats and Gateway:Health are read by hand (they accept "10s"): check them now, so a bad value stops the
        // start with the settings named (OptionsValidationException) instead of failing where they are first used.
        try
        {
            _ = app.Services.GetRequiredService<Operations.OperationsOptions>();
        }
        catch (OptionsValidationException)
        {
            ((IDisposable)app).Dispose();
            throw;
        }

        // First: the per-address cap on /ws, refusals and the request log read the client's address.
        app.UseGatewayForwardedHeaders();
        app.UseExceptionHandler();
        // Framework refusals (404, 405, 415) become problem+json too, never an empty body.
        app.UseStatusCodePages();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
        app.UseGatewayOperationsRequestLog();
        // Routing, the management listener's 404s, authentication, authorization, the per-caller rate limiter.
        app.UseGatewayApiSecurity();

        // Every endpoint states its policy: open ones here (the protocol authenticates in the Connect frame).
        var open = app.MapGroup("").AllowAnonymous();
        open.Map(WebSocketEndpoint.Path, WebSocketEndpoint.HandleAsync);
        open.MapOpenApi();
        app.MapPublishApi();
        app.MapGatewayOperations();
        if (app.Environment.IsDevelopment())
        {
            open.MapDemo(); // hands out tokens: never outside Development
        }

        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var endpoints = app.Services.GetRequiredService<KestrelEndpoints>();
            var nodeId = app.Services.GetRequiredService<IOptions<DispatcherOptions>>().Value.NodeId;
            GatewayLog.Started(
                app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Gateway"),
                nodeId,
                string.Join(", ", endpoints.HttpEndPoints),
                endpoints.TcpEndPoint?.ToString() ?? "disabled");
        });
        return app;
    }
}
