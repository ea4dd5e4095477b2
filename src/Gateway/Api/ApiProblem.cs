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

    /// <summary>
    /// Adds <c>code</c>/<c>error</c> to problems the framework writes itself: 415 (a body that is
    /// not JSON) maps to <c>text_not_supported</c>, whose catalog status is 415.
    /// </summary>
    public static void CustomizeFrameworkProblem(ProblemDetailsContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var problem = context.ProblemDetails;
        if (problem.Status == StatusCodes.Status415UnsupportedMediaType && !problem.Extensions.ContainsKey("error"))
        {
            var info = ErrorCatalog.Get(ErrorCode.TextNotSupported);
            problem.Detail ??= "Send Content-Type: application/json (or application/vnd.archmesh.frames to /api/v1/publish).";
            problem.Extensions["code"] = (int)ErrorCode.TextNotSupported;
            problem.Extensions["error"] = info.Name;
            problem.Extensions["retryable"] = false;
        }
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
