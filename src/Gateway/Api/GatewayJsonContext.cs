using System.Text.Json;
using System.Text.Json.Serialization;
using Gateway.Api.Models;

namespace Gateway.Api;

/// <summary>Source-generated JSON for the HTTP API (camelCase, no reflection).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(PublishRequest))]
[JsonSerializable(typeof(BatchRequest))]
[JsonSerializable(typeof(PublishResponse))]
[JsonSerializable(typeof(BatchResponse))]
[JsonSerializable(typeof(DrainResponse))]
[JsonSerializable(typeof(IdempotencyRecord))]
public sealed partial class GatewayJsonContext : JsonSerializerContext
{
}
