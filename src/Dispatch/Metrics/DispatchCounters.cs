using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch;

/// <summary>
/// The dispatcher's counters, shared by workers, queues and the metrics/stats readers. Plain fields
/// updated with interlocked increments; reading them is all metrics and <see cref="Dispatcher.GetStats"/> do,
/// so the hot path costs the same whether anybody listens or not.
/// </summary>
internal sealed class DispatchCounters
{
    public readonly long[] Shed = new long[4];
    public long SlowConsumerCloses;
    public long RejectedOverloaded;
    public long RejectedPayloadTooLarge;
    public long RejectedInvalidTopic;
    public long RejectedShuttingDown;
    public long RejectedEngineUnavailable;
    public long WorkerFaults;
    public long AcksDropped;
    public long ReplaysIncomplete;

    public void CountShed(Priority priority) => Interlocked.Increment(ref Shed[(int)priority & 3]);

    public void CountReject(ErrorCode code)
    {
        switch (code)
        {
            case ErrorCode.Overloaded:
                Interlocked.Increment(ref RejectedOverloaded);
                break;
            case ErrorCode.PayloadTooLarge:
                Interlocked.Increment(ref RejectedPayloadTooLarge);
                break;
            case ErrorCode.ServerShuttingDown:
                Interlocked.Increment(ref RejectedShuttingDown);
                break;
            case ErrorCode.EngineUnavailable:
                Interlocked.Increment(ref RejectedEngineUnavailable);
                break;
            default:
                Interlocked.Increment(ref RejectedInvalidTopic);
                break;
        }
    }
}
