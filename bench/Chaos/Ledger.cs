namespace Chaos;

/// <summary>
/// The acknowledged publishes of one scenario, as bitsets by sequence number: per (publisher, topic) for
/// topic messages and one stream for notifications (notification <c>seq</c> goes to user <c>c{seq % clients}</c>).
/// Also the process-wide delivery counter the timeline samples.
/// </summary>
public sealed class Ledger
{
    private readonly Bitset[,] _acked;
    private long _delivered;

    public Ledger(int run, int publishers, int topics, int clients, int topicSeqCapacity, int notifyCapacity)
    {
        Run = run;
        Topics = topics;
        Clients = clients;
        Publishers = publishers;
        _acked = new Bitset[publishers, topics];
        for (var p = 0; p < publishers; p++)
        {
            for (var t = 0; t < topics; t++)
            {
                _acked[p, t] = new Bitset(topicSeqCapacity);
            }
        }

        NotifyAcked = new Bitset(notifyCapacity);
        NotifyReceived = new Bitset(notifyCapacity);
        NotifyOffsets = new ulong[NotifyAcked.CapacityBits];
    }

    /// <summary>A random id written into every payload of this scenario, so leftovers of an earlier run are told apart.</summary>
    public int Run { get; }

    public int Topics { get; }

    public int Clients { get; }

    public int Publishers { get; }

    public int TopicSeqCapacity => _acked[0, 0].CapacityBits;

    public int NotifyCapacity => NotifyAcked.CapacityBits;

    public Bitset NotifyAcked { get; }

    /// <summary>Notifications delivered to their user's client (set by that client's reader).</summary>
    public Bitset NotifyReceived { get; }

    /// <summary>Offset + 1 at which each notification was first delivered (tells an SDK duplicate from a second publish).</summary>
    public ulong[] NotifyOffsets { get; }

    public long Delivered => Interlocked.Read(ref _delivered);

    public Bitset Acked(int publisher, int topic) => _acked[publisher, topic];

    public void AckTopic(int publisher, int topic, long seq) => _acked[publisher, topic].SetAtomic(seq);

    public void AckNotify(long seq) => NotifyAcked.SetAtomic(seq);

    public void CountDelivery() => Interlocked.Increment(ref _delivered);
}
