namespace Gateway.Api.Models;

/// <summary>Result of <c>POST /api/v1/admin/drain</c>.</summary>
/// <param name="Draining">Always true once accepted.</param>
/// <param name="Connections">Connections open when the drain was requested.</param>
/// <param name="TimeoutSeconds">The drain deadline.</param>
public sealed record DrainResponse(bool Draining, int Connections, double TimeoutSeconds);
