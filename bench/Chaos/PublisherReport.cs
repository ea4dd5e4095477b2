namespace Chaos;

/// <summary>A publisher's final counts, for the JSON and summary.md.</summary>
public sealed record PublisherReport(string Name, long Messages, long Acked, long Retryable, long Fatal, long Unknown, long Unacked, long Skipped, Dictionary<string, long> Errors)
{
    public static PublisherReport From(PublisherStats s) =>
        new(s.Name, s.Messages, s.Acked, s.Retryable, s.Fatal, s.Unknown, s.GaveUp, s.Skipped, s.ByError.OrderBy(e => e.Key, StringComparer.Ordinal).ToDictionary(e => e.Key, e => e.Value));
}
