using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gateway.Api.Models;
using Gateway.Hosting;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Gateway.Protocol.Topics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Gateway.Api;

/// <summary>
/// The HTTP publish API under <c>/api/v1</c> (docs/http-api.md). Every client mistake is answered
/// with application/problem+json carrying the protocol error code and name and the catalog's
/// status (400/401/403/413/422/429/503) — never a 500.
/// </summary>
public static class PublishApi
{
    /// <summary>Content type of a body made of protocol Publish frames.</summary>
    public const string FramesContentType = "application/vnd.archmesh.frames";

    /// <summary>Maps the endpoints.</summary>
    public static IEndpointRouteBuilder MapPublishApi(this IEndpointRouteBuilder app)
    {
        // Every publish endpoint: the publish policy (401/403 before the body is read), then the caller's rate limit.
        var api = app.MapGroup("/api/v1").WithTags("Publish");
        var publish = api.MapGroup("").RequireAuthorization(ApiPolicies.Publish).RequireRateLimiting(ApiPolicies.PerCaller);
        publish.MapPost("/publish", PublishAsync)
            .WithMetadata(RequestBodyLimit.Messages)
            .Accepts<PublishRequest>("application/json", FramesContentType)
            .WithSummary("Publish one message to a topic (JSON), or Publish frames (application/vnd.archmesh.frames).")
            .Produces<PublishResponse>()
            .Produces<BatchResponse>(StatusCodes.Status200OK, FramesContentType)
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(413).ProducesProblem(422).ProducesProblem(429).ProducesProblem(503);
        publish.MapPost("/notify", NotifyAsync)
            .WithMetadata(RequestBodyLimit.SingleMessage)
            .Accepts<PublishRequest>("application/json")
            .WithSummary("Notify a user (topic user:{user}); pending until acknowledged.")
            .Produces<PublishResponse>()
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(413).ProducesProblem(422).ProducesProblem(429).ProducesProblem(503);
        publish.MapPost("/workflows/{id}", WorkflowAsync)
            .WithMetadata(RequestBodyLimit.SingleMessage)
            .Accepts<PublishRequest>("application/json")
            .WithSummary("Publish a workflow update (topic workflow:{id}); the latest is retained.")
            .Produces<PublishResponse>()
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(413).ProducesProblem(422).ProducesProblem(429).ProducesProblem(503);
        publish.MapPost("/broadcast", BroadcastAsync)
            .WithMetadata(RequestBodyLimit.SingleMessage)
            .Accepts<PublishRequest>("application/json")
            .WithSummary("Broadcast to every connection.")
            .Produces<PublishResponse>()
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(413).ProducesProblem(422).ProducesProblem(429).ProducesProblem(503);
        publish.MapPost("/batch", BatchAsync)
            .WithMetadata(RequestBodyLimit.Messages)
            .Accepts<BatchRequest>("application/json")
            .WithSummary("Publish several messages; one result (position or error) per message, in order.")
            .Produces<BatchResponse>()
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(413).ProducesProblem(429).ProducesProblem(503);

        // An operations endpoint: on the management listener when there is one; always an admin key.
        api.MapPost("/admin/drain", Drain)
            .RequireAuthorization(ApiPolicies.Admin)
            .RequireRateLimiting(ApiPolicies.PerCaller)
            .OnManagementListener()
            .WithTags("Admin")
            .WithSummary("Start a graceful drain of this node (API key with the admin scope).")
            .Produces<DrainResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(401).ProducesProblem(403).ProducesProblem(429);
        return app;
    }

    private static async Task<IResult> PublishAsync(HttpContext context, ApiCaller caller, [FromServices] PublishApiServices services)
    {
        if (context.Request.ContentType?.StartsWith(FramesContentType, StringComparison.OrdinalIgnoreCase) == true)
        {
            return await PublishFramesAsync(context, services, caller).ConfigureAwait(false);
        }

        var (request, error) = await ReadJsonAsync(context, services, GatewayJsonContext.Default.PublishRequest).ConfigureAwait(false);
        return request is null ? error! : ToResult(context, services, await PublishOneAsync(services, caller, request, PublishOperation.Publish, request.Topic, context.RequestAborted).ConfigureAwait(false));
    }

    private static async Task<IResult> NotifyAsync(HttpContext context, ApiCaller caller, [FromServices] PublishApiServices services)
    {
        var (request, error) = await ReadJsonAsync(context, services, GatewayJsonContext.Default.PublishRequest).ConfigureAwait(false);
        if (request is null)
        {
            return error!;
        }

        if (string.IsNullOrEmpty(request.User))
        {
            return Refuse(context, services, ErrorCode.MalformedFrame, "Field 'user' is required.");
        }

        return ToResult(context, services, await PublishOneAsync(services, caller, request, PublishOperation.Notify, TopicRules.UserPrefix + request.User, context.RequestAborted).ConfigureAwait(false));
    }

    private static async Task<IResult> WorkflowAsync(HttpContext context, string id, ApiCaller caller, [FromServices] PublishApiServices services)
    {
        var (request, error) = await ReadJsonAsync(context, services, GatewayJsonContext.Default.PublishRequest).ConfigureAwait(false);
        return request is null ? error! : ToResult(context, services, await PublishOneAsync(services, caller, request, PublishOperation.Workflow, TopicRules.WorkflowPrefix + id, context.RequestAborted).ConfigureAwait(false));
    }

    private static async Task<IResult> BroadcastAsync(HttpContext context, ApiCaller caller, [FromServices] PublishApiServices services)
    {
        var (request, error) = await ReadJsonAsync(context, services, GatewayJsonContext.Default.PublishRequest).ConfigureAwait(false);
        return request is null ? error! : ToResult(context, services, await PublishOneAsync(services, caller, request, PublishOperation.Broadcast, TopicRules.Broadcast, context.RequestAborted).ConfigureAwait(false));
    }

    private static async Task<IResult> BatchAsync(HttpContext context, ApiCaller caller, [FromServices] PublishApiServices services)
    {
        var (request, error) = await ReadJsonAsync(context, services, GatewayJsonContext.Default.BatchRequest).ConfigureAwait(false);
        if (request is null)
        {
            return error!;
        }

        if (request.Messages is not { Count: > 0 } messages)
        {
            return Refuse(context, services, ErrorCode.MalformedFrame, "Field 'messages' must be a non-empty array.");
        }

        if (messages.Count > services.Options.Http.MaxBatchMessages)
        {
            return Refuse(context, services, ErrorCode.PayloadTooLarge, $"The batch has {messages.Count} messages; at most {services.Options.Http.MaxBatchMessages} (Gateway:Http:MaxBatchMessages).");
        }

        // Started in order (each enqueues synchronously), awaited together: one topic's messages keep their order.
        var pending = new List<Task<ApiOutcome>>(messages.Count);
        foreach (var message in messages)
        {
            pending.Add(message is null
                ? Task.FromResult(ApiOutcome.Fail(ErrorCode.MalformedFrame, "A batch item is null."))
                : PublishOneAsync(services, caller, message, PublishOperation.Publish, message.Topic, context.RequestAborted));
        }

        return await BatchResultAsync(pending).ConfigureAwait(false);
    }

    private static IResult Drain([FromServices] PublishApiServices services)
    {
        var connections = services.Registry.Count;
        _ = services.Lifetime.DrainAsync("api");
        return Results.Json(new DrainResponse(true, connections, services.Options.Drain.Timeout.TotalSeconds), GatewayJsonContext.Default.DrainResponse, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> PublishFramesAsync(HttpContext context, PublishApiServices services, ApiCaller caller)
    {
        var (body, problem) = await RequestBody.ReadAsync(context, services).ConfigureAwait(false);
        if (body is null)
        {
            return problem!;
        }

        using var _ = body;
        var pending = new List<Task<ApiOutcome>>();
        var buffer = new ReadOnlySequence<byte>(body.Memory);
        try
        {
            while (!buffer.IsEmpty)
            {
                var sequence = new SequenceReader<byte>(buffer);
                if (!FrameReader.TryRead(ref sequence, services.Limits, out var frame))
                {
                    return Refuse(context, services, ErrorCode.MalformedFrame, "The body ends inside a frame.");
                }

                if (frame.Kind != FrameKind.Publish)
                {
                    return Refuse(context, services, ErrorCode.UnexpectedFrame, $"Only Publish frames are accepted here, not {frame.Kind}.");
                }

                // The payload is copied here: the body buffer goes back to the pool when this method returns.
                var request = new PublishRequest { Priority = frame.Priority.ToString() };
                pending.Add(PublishCoreAsync(services, caller, request, PublishOperation.Publish, frame.TopicString, frame.Payload.ToArray(), context.RequestAborted));
                buffer = buffer.Slice(sequence.Position);
            }
        }
        catch (ProtocolException e)
        {
            return Refuse(context, services, e.Code, e.Message);
        }

        if (pending.Count == 0)
        {
            return Refuse(context, services, ErrorCode.MalformedFrame, "The body holds no frame.");
        }

        return await BatchResultAsync(pending).ConfigureAwait(false);
    }

    private static async Task<IResult> BatchResultAsync(List<Task<ApiOutcome>> pending)
    {
        var results = new List<BatchItemResult>(pending.Count);
        foreach (var task in pending)
        {
            var outcome = await task.ConfigureAwait(false);
            results.Add(outcome.Response is { } ok
                ? new BatchItemResult { Topic = ok.Topic, Epoch = ok.Epoch, Offset = ok.Offset }
                : new BatchItemResult { Error = outcome.Error });
        }

        return Results.Json(new BatchResponse(results), GatewayJsonContext.Default.BatchResponse);
    }

    private static Task<ApiOutcome> PublishOneAsync(PublishApiServices services, ApiCaller caller, PublishRequest request, PublishOperation operation, string? topic, CancellationToken cancellationToken)
    {
        if (request.Payload is not null && request.PayloadBase64 is not null)
        {
            return Task.FromResult(ApiOutcome.Fail(ErrorCode.MalformedFrame, "Give either 'payload' or 'payloadBase64', not both."));
        }

        byte[] payload;
        if (request.PayloadBase64 is not null)
        {
            try
            {
                payload = Convert.FromBase64String(request.PayloadBase64);
            }
            catch (FormatException)
            {
                return Task.FromResult(ApiOutcome.Fail(ErrorCode.MalformedFrame, "'payloadBase64' is not valid base64."));
            }
        }
        else if (request.Payload is { } json)
        {
            payload = Encoding.UTF8.GetBytes(json.GetRawText());
        }
        else
        {
            return Task.FromResult(ApiOutcome.Fail(ErrorCode.MalformedFrame, "Field 'payload' (any JSON value) or 'payloadBase64' is required."));
        }

        return PublishCoreAsync(services, caller, request, operation, topic, payload, cancellationToken);
    }

    private static Task<ApiOutcome> PublishCoreAsync(PublishApiServices services, ApiCaller caller, PublishRequest request, PublishOperation operation, string? topic, byte[] payload, CancellationToken cancellationToken)
    {
        if (services.Lifetime.IsDraining)
        {
            return Task.FromResult(ApiOutcome.Fail(ErrorCode.ServerShuttingDown, "The node is draining; publish to another node."));
        }

        if (string.IsNullOrEmpty(topic))
        {
            return Task.FromResult(ApiOutcome.Fail(ErrorCode.MalformedFrame, "Field 'topic' is required."));
        }

        var topicError = TopicRules.Validate(topic);
        if (topicError != ErrorCode.None)
        {
            return Task.FromResult(ApiOutcome.Fail(topicError, $"Topic '{topic}' is invalid: 1-255 UTF-8 bytes without spaces, control characters, '*', '?' or '#'."));
        }

        if (!caller.Permissions.CanPublish(topic))
        {
            return Task.FromResult(ApiOutcome.Fail(ErrorCode.Forbidden, $"The token does not allow publishing to '{topic}'."));
        }

        if (!TryParsePriority(request.Priority, out var priority))
        {
            return Task.FromResult(ApiOutcome.Fail(ErrorCode.InvalidPriority, $"Priority '{request.Priority}' is not one of critical, high, normal, low."));
        }

        // Fingerprinted after validation, from what would be published: a conflict is only ever about a valid request.
        var key = request.IdempotencyKey;
        var fingerprint = string.IsNullOrEmpty(key) ? string.Empty : IdempotencyCache.Fingerprint(caller.Name, operation, topic, priority, payload);
        return services.Idempotency.GetOrRunAsync(caller.Name, key, fingerprint, async () =>
        {
            var result = await services.Dispatcher.PublishAsync(topic, priority, payload, cancellationToken).ConfigureAwait(false);
            if (result.Error != ErrorCode.None)
            {
                return ApiOutcome.Fail(result.Error, ErrorCatalog.Get(result.Error).Description);
            }

            GatewayLog.ApiPublished(services.Logger, caller.Name, topic, result.Offset);
            return new ApiOutcome(new PublishResponse(topic, result.Epoch, result.Offset), null);
        }, cancellationToken);
    }

    private static bool TryParsePriority(string? value, out Priority priority)
    {
        priority = Priority.Normal;
        if (string.IsNullOrEmpty(value))
        {
            return true;
        }

        return value.ToLowerInvariant() switch
        {
            "critical" => Set(Priority.Critical, out priority),
            "high" => Set(Priority.High, out priority),
            "normal" => Set(Priority.Normal, out priority),
            "low" => Set(Priority.Low, out priority),
            _ => false,
        };

        static bool Set(Priority value, out Priority result)
        {
            result = value;
            return true;
        }
    }

    private static async Task<(T? Value, IResult? Problem)> ReadJsonAsync<T>(HttpContext context, PublishApiServices services, JsonTypeInfo<T> typeInfo)
        where T : class
    {
        var (body, problem) = await RequestBody.ReadAsync(context, services).ConfigureAwait(false);
        if (body is null)
        {
            return (null, problem);
        }

        using (body)
        {
            try
            {
                // JsonElement values are copied out of the span, so the pooled body can be returned after this.
                var value = JsonSerializer.Deserialize(body.Memory.Span, typeInfo);
                return value is null
                    ? (null, Refuse(context, services, ErrorCode.MalformedFrame, "The body must be a JSON object."))
                    : (value, null);
            }
            catch (JsonException e)
            {
                return (null, Refuse(context, services, ErrorCode.MalformedFrame, "The body is not valid JSON for this endpoint: " + e.Message));
            }
        }
    }

    private static IResult Refuse(HttpContext context, PublishApiServices services, ErrorCode code, string detail) => ToResult(context, services, ApiOutcome.Fail(code, detail));

    private static IResult ToResult(HttpContext context, PublishApiServices services, ApiOutcome outcome)
    {
        if (outcome.Response is { } response)
        {
            return Results.Json(response, GatewayJsonContext.Default.PublishResponse);
        }

        var error = outcome.Error!;
        services.Refusals.Refused(context, error.Status, error.Error, error.Detail);
        return ApiProblem.For(error);
    }
}
