using Microsoft.Extensions.Logging;

namespace Gateway.Api;

/// <summary>Source-generated log messages of the HTTP API's security layer (event ids 1450–1469).</summary>
internal static partial class ApiLog
{
    [LoggerMessage(EventId = 1450, Level = LogLevel.Warning, Message = "HTTP API refused {Count} request(s) of {Caller} in the last {Seconds} s (one line per caller per interval); latest: {Status} {ErrorName} ({Detail})")]
    public static partial void Refused(ILogger logger, int count, string caller, long seconds, int status, string errorName, string detail);

    [LoggerMessage(EventId = 1451, Level = LogLevel.Information, Message = "Operations endpoints (/metrics, /api/v1/stats*, /dashboard, drain): {Where}; {Protection}")]
    public static partial void OperationsEndpoints(ILogger logger, string where, string protection);
}
