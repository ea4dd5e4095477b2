using System.Text.Json;

namespace Gateway.Api.Models;

/// <summary>Body of <c>POST /api/v1/publish</c>, <c>/notify</c>, <c>/workflows/{id}</c>, <c>/broadcast</c> and each batch item.</summary>
public sealed class PublishRequest
{
    /// <summary>Target topic (publish and batch items).</summary>
    public string? Topic { get; set; }

    /// <summary>Target user (notify): the topic becomes <c>user:{user}</c>.</summary>
    public string? User { get; set; }

    /// <summary>Payload as any JSON value; delivered as its UTF-8 JSON text.</summary>
    public JsonElement? Payload { get; set; }

    /// <summary>Payload as base64 bytes (binary payloads); exclusive with <see cref="Payload"/>.</summary>
    public string? PayloadBase64 { get; set; }

    /// <summary><c>critical</c>, <c>high</c>, <c>normal</c> (default) or <c>low</c>.</summary>
    public string? Priority { get; set; }

    /// <summary>
    /// Optional key: a repeated request with the same key (same caller) returns the first result; the same key
    /// with a different request is refused with 422 <c>idempotency_conflict</c>.
    /// </summary>
    public string? IdempotencyKey { get; set; }
}
