using System.Threading.Tasks.Sources;
using Microsoft.Extensions.ObjectPool;

namespace Gateway.Dispatch;

/// <summary>
/// A pooled, reusable completion for <see cref="Dispatcher.PublishAsync"/>: the worker completes it
/// once the offset is assigned; it goes back to its pool when the awaiter has read the result.
/// </summary>
internal sealed class PublishCompletion : IValueTaskSource<PublishResult>
{
    private ManualResetValueTaskSourceCore<PublishResult> _core = new() { RunContinuationsAsynchronously = true };
    private ObjectPool<PublishCompletion>? _pool;

    public ValueTask<PublishResult> Task => new(this, _core.Version);

    public void Prepare(ObjectPool<PublishCompletion> pool)
    {
        _pool = pool;
        _core.Reset();
    }

    public void Complete(PublishResult result) => _core.SetResult(result);

    public PublishResult GetResult(short token)
    {
        var result = _core.GetResult(token);
        var pool = _pool;
        _pool = null;
        pool?.Return(this);
        return result;
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
