using Gateway.Api.Models;
using Gateway.Protocol.Errors;
using Microsoft.AspNetCore.Http;

namespace Gateway.Api;

/// <summary>
/// application/problem+json answers: <c>status</c>, <c>title</c>, <c>detail</c>, and the extensions
/// <c>code</c> (protocol error code), <c>error</c> (catalog name) and <c>retryable</c>.
/// </summary>
public static class ApiProblem
{
    /// <summary>Problem for a protocol error code with the catalog's HTTP status.</summary>
    public static IResult For(ErrorCode code, string detail)
    {
        var info = ErrorCatalog.Get(code);
        return For(new ApiError(info.HttpStatus, (int)code, info.Name, detail, info.Retryable));
    }

    /// <summary>Problem for an <see cref="ApiError"/>.</summary>
    public static IResult For(ApiError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var info = ErrorCatalog.Get((ErrorCode)error.Code);
        return Results.Problem(
            detail: error.Detail,
            statusCode: error.Status,
            title: info.Description,
            type: "https://archmesh.dev/errors/" + error.Error,
            extensions: new Dictionary<string, object?>
            {
                ["code"] = error.Code,
                ["error"] = error.Error,
                ["retryable"] = error.Retryable,
            });
    }
}
