using Gateway.Api.Models;
using Gateway.Protocol.Errors;

namespace Gateway.Api;

/// <summary>Result of publishing one message through the HTTP API.</summary>
/// <param name="Response">The assigned position on success.</param>
/// <param name="Error">The error otherwise.</param>
public sealed record ApiOutcome(PublishResponse? Response, ApiError? Error)
{
    /// <summary>A failure with the catalog's status.</summary>
    public static ApiOutcome Fail(ErrorCode code, string detail)
    {
        var info = ErrorCatalog.Get(code);
        return new ApiOutcome(null, new ApiError(info.HttpStatus, (int)code, info.Name, detail, info.Retryable));
    }
}
