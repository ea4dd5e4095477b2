namespace Gateway.Dispatch;

/// <summary>Settings of the dispatch core (bound from configuration by the host).</summary>
public sealed class DispatcherOptions
{
    /// <summary>Identifies this node (Connected frames, logs). Default: machine name + process id.</summary>
    public string NodeId { get; set; } = $"{Environment.MachineName}-{Environment.ProcessId}";

    /// <summary>Number of dedicated worker threads. 0 or less means <see cref="Environment.ProcessorCount"/>.</summary>
    public int WorkerCount { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// Whether a worker, after each drain of a ring, runs the woken connections' write continuations on its
    /// own thread (true, default) instead of queueing them to the thread pool. Inline saves a thread hop and
    /// a wake-up per delivery, which dominates at light load; it requires the readers of
    /// <see cref="OutboundQueue.WaitToReadAsync"/> never to block (the gateway's write loops do not).
    /// </summary>
    public bool WakeInline { get; set; } = true;

    /// <summary>
    /// Admission bound, per worker and priority, on deliveries accepted but not yet fanned out (a publish to
    /// a topic with n subscribers counts n). A publish that would exceed it is refused with the retryable
    /// <c>overloaded</c> error (the gateway's protocol endpoints first pause reading the publisher, which
    /// pushes back through TCP). One publish is always admitted into an empty backlog, whatever its size.
    /// Bounding deliveries rather than messages is what bounds queueing latency: 32,768 deliveries are
    /// ~0.1 s of work for one worker on the reference machine.
    /// </summary>
    public int MaxPendingDeliveries { get; set; } = 32768;

    /// <summary>Slots of each priority ring of each worker (a power of two).</summary>
    public int RingCapacity { get; set; } = 16384;

    /// <summary>Slots of each worker's control ring (subscribe, unsubscribe, ack, broadcast slices; a power of two).</summary>
    public int ControlRingCapacity { get; set; } = 4096;

    /// <summary>Largest accepted publish payload in bytes.</summary>
    public int MaxPayloadBytes { get; set; } = 60 * 1024;

    /// <summary>Per-connection outbound queue bounds.</summary>
    public OutboundQueueOptions Outbound { get; set; } = new();

    /// <summary>Per-topic history bounds.</summary>
    public HistoryOptions History { get; set; } = new();

    /// <summary>Most pending (unacknowledged) notifications kept per user; the oldest is dropped beyond it.</summary>
    public int MaxPendingPerUser { get; set; } = 1000;

    /// <summary>How long an unacknowledged notification stays pending.</summary>
    public TimeSpan PendingTtl { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// How often each worker looks for idle topics to drop (no subscribers, nothing in history after the
    /// age bound, no retained state, no pending notification). Dropped topics get a new epoch when used again.
    /// </summary>
    public TimeSpan IdleTopicSweepInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Topics one idle-topic sweep step visits before the worker goes back to its rings: a pass over many topics
    /// runs in batches of this size between ring drains instead of in one stall.
    /// </summary>
    public int IdleTopicSweepBatch { get; set; } = 256;

    /// <summary>The node-wide memory budget for topic state (topics, history, retained, pending).</summary>
    public TopicBudgetOptions Budget { get; set; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        static void Pow2(int value, string name)
        {
            if (value < 2 || (value & (value - 1)) != 0)
            {
                throw new ArgumentException($"{name} must be a power of two >= 2 (was {value}).", name);
            }
        }

        Pow2(RingCapacity, nameof(RingCapacity));
        Pow2(ControlRingCapacity, nameof(ControlRingCapacity));
        if (MaxPendingDeliveries <= 0)
        {
            throw new ArgumentException($"{nameof(MaxPendingDeliveries)} must be positive (was {MaxPendingDeliveries}).", nameof(MaxPendingDeliveries));
        }

        if (MaxPayloadBytes <= 0)
        {
            throw new ArgumentException($"{nameof(MaxPayloadBytes)} must be positive.", nameof(MaxPayloadBytes));
        }

        if (MaxPendingPerUser < 0)
        {
            throw new ArgumentException($"{nameof(MaxPendingPerUser)} must not be negative.", nameof(MaxPendingPerUser));
        }

        if (IdleTopicSweepInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(IdleTopicSweepInterval)} must be positive.", nameof(IdleTopicSweepInterval));
        }

        if (PendingTtl <= TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(PendingTtl)} must be positive (was {PendingTtl}).", nameof(PendingTtl));
        }

        if (IdleTopicSweepBatch <= 0)
        {
            throw new ArgumentException($"{nameof(IdleTopicSweepBatch)} must be positive (was {IdleTopicSweepBatch}).", nameof(IdleTopicSweepBatch));
        }

        ArgumentNullException.ThrowIfNull(Outbound);
        ArgumentNullException.ThrowIfNull(History);
        ArgumentNullException.ThrowIfNull(Budget);
        Outbound.Validate();
        History.Validate();
        Budget.Validate();
    }
}
