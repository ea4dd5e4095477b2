using Gateway.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Gateway.Api;

/// <summary>
/// Which listener serves which endpoint when <c>Gateway:Management:Urls</c> is set: operations endpoints
/// (<see cref="OnManagementListener{TBuilder}"/>) only on the management listener, <c>/health/*</c>
/// (<see cref="OnEveryListener{TBuilder}"/>) on both, everything else only on the public listener. An endpoint on the
/// wrong listener is answered 404, as if it did not exist there. Without a management listener every endpoint is on
/// the public one.
/// </summary>
public static class ManagementListener
{
    /// <summary>Serves the endpoints only on the management listener when there is one.</summary>
    public static TBuilder OnManagementListener<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(Placement.Management);

    /// <summary>Serves the endpoints on every listener.</summary>
    public static TBuilder OnEveryListener<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(Placement.Every);

    /// <summary>Adds the middleware that answers 404 for an endpoint on the wrong listener (after routing).</summary>
    public static WebApplication UseManagementListener(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (!app.Services.GetRequiredService<IOptions<ManagementOptions>>().Value.HasListener)
        {
            return app;
        }

        app.Use((context, next) =>
        {
            var placement = context.GetEndpoint()?.Metadata.GetMetadata<Placement>();
            if (placement != Placement.Every)
            {
                var onManagement = context.Features.Get<ManagementConnectionFeature>() is not null;
                if (onManagement != (placement == Placement.Management))
                {
                    // UseStatusCodePages turns the empty 404 into problem+json, like any unknown path.
                    context.SetEndpoint(null);
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    return Task.CompletedTask;
                }
            }

            return next(context);
        });
        return app;
    }

    /// <summary>Endpoint metadata: where an endpoint is served.</summary>
    private sealed class Placement
    {
        public static readonly Placement Management = new();
        public static readonly Placement Every = new();
    }
}
