using System.Text.Json.Serialization;

namespace Gateway.Api.Models;

/// <summary>One batch item's outcome: a position, or an error.</summary>
public sealed class BatchItemResult
{
    /// <summary>The topic (when known).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Topic { get; set; }

    /// <summary>The epoch on success.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ulong? Epoch { get; set; }

    /// <summary>The offset on success.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ulong? Offset { get; set; }

    /// <summary>The error on failure.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ApiError? Error { get; set; }
}
