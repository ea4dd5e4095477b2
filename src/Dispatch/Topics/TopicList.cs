namespace Gateway.Dispatch;

/// <summary>
/// The topics one worker owns, in least-recently-used order (head = least recently published, subscribed or
/// read), as an intrusive doubly linked list through <see cref="TopicState"/>: touching, adding and removing
/// are O(1) and allocate nothing. Owner thread only. Each touch gives the topic a new, higher stamp, so stamps
/// increase from head to tail; the idle-topic sweep uses that to walk the list incrementally (a cursor and the
/// stamp at which its pass began) without a snapshot, and budget eviction walks it from the head.
/// </summary>
internal sealed class TopicList
{
    private TopicState? _head;
    private TopicState? _tail;
    private TopicState? _cursor;
    private long _stamp;
    private long _passEnd;
    private bool _passActive;

    /// <summary>Topics in the list.</summary>
    public int Count { get; private set; }

    /// <summary>The least recently used topic.</summary>
    public TopicState? Head => _head;

    /// <summary>The latest stamp given (a walk from the head stops at topics stamped after it began).</summary>
    public long Stamp => _stamp;

    /// <summary>Whether a sweep pass is under way.</summary>
    public bool PassActive => _passActive;

    /// <summary>Marks <paramref name="topic"/> as just used: it moves to the tail (it is added if not listed yet).</summary>
    public void Touch(TopicState topic)
    {
        if (topic.Listed)
        {
            if (ReferenceEquals(topic, _tail))
            {
                topic.LruStamp = ++_stamp;
                return;
            }

            Unlink(topic);
        }

        Append(topic);
    }

    /// <summary>Takes <paramref name="topic"/> out of the list (dropped or evicted).</summary>
    public void Remove(TopicState topic)
    {
        if (topic.Listed)
        {
            Unlink(topic);
        }
    }

    /// <summary>Starts a sweep pass over every topic listed now (topics used after this point are skipped: they are not idle).</summary>
    public void BeginPass()
    {
        _cursor = _head;
        _passEnd = _stamp;
        _passActive = _cursor is not null;
    }

    /// <summary>The next topic of the current pass, or null when the pass is complete.</summary>
    public TopicState? NextInPass()
    {
        var topic = _cursor;
        if (!_passActive || topic is null || topic.LruStamp > _passEnd)
        {
            _passActive = false;
            _cursor = null;
            return null;
        }

        _cursor = topic.LruNext;
        return topic;
    }

    private void Append(TopicState topic)
    {
        topic.LruPrev = _tail;
        topic.LruNext = null;
        if (_tail is null)
        {
            _head = topic;
        }
        else
        {
            _tail.LruNext = topic;
        }

        _tail = topic;
        topic.Listed = true;
        topic.LruStamp = ++_stamp;
        Count++;
    }

    private void Unlink(TopicState topic)
    {
        if (ReferenceEquals(topic, _cursor))
        {
            _cursor = topic.LruNext; // the pass goes on from the next topic, never loses its place
        }

        if (topic.LruPrev is null)
        {
            _head = topic.LruNext;
        }
        else
        {
            topic.LruPrev.LruNext = topic.LruNext;
        }

        if (topic.LruNext is null)
        {
            _tail = topic.LruPrev;
        }
        else
        {
            topic.LruNext.LruPrev = topic.LruPrev;
        }

        topic.LruPrev = null;
        topic.LruNext = null;
        topic.Listed = false;
        Count--;
    }
}
