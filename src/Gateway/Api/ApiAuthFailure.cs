using Gateway.Protocol.Errors;

namespace Gateway.Api;

/// <summary>
/// Why an HTTP API authentication scheme refused the request's credentials, kept in the request's features so the
/// 401 (<see cref="ApiAuthorizationResultHandler"/>) says exactly what today's callers read.
/// </summary>
/// <param name="Code"><see cref="ErrorCode.Unauthorized"/> or <see cref="ErrorCode.TokenExpired"/>.</param>
/// <param name="Detail">The problem's detail (never the secret).</param>
internal sealed record ApiAuthFailure(ErrorCode Code, string Detail);
