namespace Gateway.Api.Models;

/// <summary>An error inside a batch result (same fields as the problem+json of a single request).</summary>
/// <param name="Status">HTTP status the error would have on its own.</param>
/// <param name="Code">Protocol error code (integer).</param>
/// <param name="Error">Catalog name of the error.</param>
/// <param name="Detail">What went wrong.</param>
/// <param name="Retryable">Whether retrying later may succeed.</param>
public sealed record ApiError(int Status, int Code, string Error, string Detail, bool Retryable);
