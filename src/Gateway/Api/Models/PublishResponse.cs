namespace Gateway.Api.Models;

/// <summary>A published message's assigned position.</summary>
/// <param name="Topic">The topic.</param>
/// <param name="Epoch">The topic stream's epoch.</param>
/// <param name="Offset">The assigned offset.</param>
public sealed record PublishResponse(string Topic, ulong Epoch, ulong Offset);
