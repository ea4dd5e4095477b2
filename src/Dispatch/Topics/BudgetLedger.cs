namespace Gateway.Dispatch;

/// <summary>
/// One worker's share of the node budget: the bytes of history, retained state and pending notifications held
/// by the topics it owns. Written only by that worker (its streams are single-threaded), with plain volatile
/// writes: no interlocked operation on the per-message path. Readers sum every worker's ledger.
/// </summary>
internal sealed class BudgetLedger
{
    private long _historyBytes;
    private long _retainedBytes;
    private long _pendingBytes;

    public long HistoryBytes => Volatile.Read(ref _historyBytes);

    public long RetainedBytes => Volatile.Read(ref _retainedBytes);

    public long PendingBytes => Volatile.Read(ref _pendingBytes);

    public void AddHistory(long delta) => Volatile.Write(ref _historyBytes, _historyBytes + delta);

    public void AddRetained(long delta) => Volatile.Write(ref _retainedBytes, _retainedBytes + delta);

    public void AddPending(long delta) => Volatile.Write(ref _pendingBytes, _pendingBytes + delta);
}
