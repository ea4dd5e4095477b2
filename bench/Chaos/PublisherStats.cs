using System.Collections.Concurrent;

namespace Chaos;

/// <summary>What one publisher saw: attempts, acknowledgements and errors by kind (thread-safe counters).</summary>
public sealed class PublisherStats(string name)
{
    private long _messages;
    private long _attempts;
    private long _acked;
    private long _retryable;
    private long _fatal;
    private long _unknown;
    private long _gaveUp;
    private long _skipped;

    public string Name { get; } = name;

    /// <summary>Errors by name (<c>engine_unavailable</c>, <c>timeout</c>, <c>http_502</c>, ...).</summary>
    public ConcurrentDictionary<string, long> ByError { get; } = new(StringComparer.Ordinal);

    public long Messages => Interlocked.Read(ref _messages);

    public long Attempts => Interlocked.Read(ref _attempts);

    public long Acked => Interlocked.Read(ref _acked);

    /// <summary>Refusals the gateway marked retryable (nothing published, or retry with the same idempotency key).</summary>
    public long Retryable => Interlocked.Read(ref _retryable);

    /// <summary>Refusals that are not retryable.</summary>
    public long Fatal => Interlocked.Read(ref _fatal);

    /// <summary>Unknown outcomes: timeouts, connection lost before the answer, a load balancer 502/504.</summary>
    public long Unknown => Interlocked.Read(ref _unknown);

    /// <summary>Messages never acknowledged (after the retries the publisher does).</summary>
    public long GaveUp => Interlocked.Read(ref _gaveUp);

    /// <summary>Messages not sent because too many were in flight (the publisher could not keep its rate).</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    public long Errors => Retryable + Fatal + Unknown;

    public void Message() => Interlocked.Increment(ref _messages);

    public void Attempt() => Interlocked.Increment(ref _attempts);

    public void Ack() => Interlocked.Increment(ref _acked);

    public void GiveUp() => Interlocked.Increment(ref _gaveUp);

    public void Skip() => Interlocked.Increment(ref _skipped);

    public void Error(PublishOutcome outcome, string name)
    {
        switch (outcome)
        {
            case PublishOutcome.Retryable:
                Interlocked.Increment(ref _retryable);
                break;
            case PublishOutcome.Fatal:
                Interlocked.Increment(ref _fatal);
                break;
            default:
                Interlocked.Increment(ref _unknown);
                break;
        }

        ByError.AddOrUpdate(name, 1, static (_, v) => v + 1);
    }
}
