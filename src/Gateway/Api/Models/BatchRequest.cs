namespace Gateway.Api.Models;

/// <summary>Body of <c>POST /api/v1/batch</c>.</summary>
public sealed class BatchRequest
{
    /// <summary>The messages, each with its topic.</summary>
    public List<PublishRequest>? Messages { get; set; }
}
