namespace Gateway.Api.Models;

/// <summary>Result of <c>POST /api/v1/batch</c> (and of a frames body): one entry per message, in order.</summary>
/// <param name="Results">The outcomes.</param>
public sealed record BatchResponse(List<BatchItemResult> Results);
