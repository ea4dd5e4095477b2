using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests;

/// <summary>The node memory budget (Gateway:Dispatch:Budget): accounting, LRU eviction, explicit recovery failure, refusals.</summary>
public class NodeBudgetTests
{
    private static readonly byte[] Payload = new byte[100];

    [Fact]
    public async Task History_retained_and_pending_bytes_are_accounted_and_released()
    {
        await using var h = new Harness(o => o.WorkerCount = 2, start: false);
        var d = h.Dispatcher;
        var budget = d.Budget;
        await Publish(d, "plain", 3);
        await Publish(d, "workflow:w", 2);
        await Publish(d, "user:u", 4);

        Assert.Equal(3, budget.Topics);
        Assert.Equal((3 * Frame("plain")) + (2 * Frame("workflow:w")) + (4 * Frame("user:u")), budget.HistoryBytes);
        Assert.Equal(Frame("workflow:w"), budget.RetainedBytes); // the latest only
        Assert.Equal(4 * Frame("user:u"), budget.PendingBytes);

        // Acknowledged notifications leave the pending budget.
        var owner = h.Connect("c", "u");
        RunAll(d);
        owner.Pump();
        var offsets = owner.MessagesOf("user:u").Select(m => m.Offset).ToList();
        Assert.Equal(4, offsets.Count);
        d.Ack(owner.Session, "user:u", offsets[0]);
        d.Ack(owner.Session, "user:u", offsets[1]);
        RunAll(d);
        Assert.Equal(2 * Frame("user:u"), budget.PendingBytes);
    }

    [Fact]
    public async Task Idle_topics_are_evicted_least_recently_used_first_and_subscribed_ones_stay()
    {
        await using var h = new Harness(
            o =>
            {
                o.WorkerCount = 1;
                o.Budget = new TopicBudgetOptions { MaxTopics = 4, EvictAbovePercent = 50 };
            },
            start: false);
        var d = h.Dispatcher;
        var worker = d.Workers[0];
        var a = await Publish(d, "a", 1);
        var b = await Publish(d, "b", 1);
        var c = await Publish(d, "c", 1);
        var watcher = h.Connect("w");
        Assert.Equal(ErrorCode.None, d.Subscribe(watcher.Session, "d", null, 1, 10));
        RunAll(d);
        var aAgain = await Publish(d, "a", 1); // "a" is now the most recently used idle topic
        Assert.Equal(4, d.Budget.Topics);

        // Threshold 2 of 4: the two least recently used idle topics ("b", then "c") go; "a" and the subscribed "d" stay.
        Assert.Equal(2, d.EnforceBudget(worker));
        Assert.Equal(2, d.Budget.Topics);
        Assert.Equal(2, d.Budget.TopicsEvicted);
        Assert.Equal(0, d.EnforceBudget(worker)); // at the threshold: nothing more

        var aLast = await Publish(d, "a", 1); // kept: same epoch, next offset
        Assert.Equal(a.Epoch, aLast.Epoch);
        Assert.Equal(aAgain.Offset + 1, aLast.Offset);

        // An evicted topic comes back in a new epoch: recovering from its old position fails explicitly.
        var late = h.Connect("late");
        Assert.Equal(ErrorCode.None, d.Subscribe(late.Session, "b", new StreamPosition(b.Epoch, b.Offset - 1), 7, 10));
        Assert.Equal(ErrorCode.None, d.Subscribe(late.Session, "c", new StreamPosition(c.Epoch, c.Offset), 8, 10));
        RunAll(d);
        late.Pump();
        var subscribed = late.Frames.Where(f => f.Kind == FrameKind.Subscribed).ToList();
        Assert.Equal(2, subscribed.Count);
        Assert.All(subscribed, f => Assert.Equal(FrameFlags.RecoveryFailed, f.Flags));
        Assert.Empty(late.Messages); // never a partial or silent replay
    }

    [Fact]
    public async Task Over_the_history_budget_a_busy_topic_loses_its_history_and_recovery_reports_failure()
    {
        await using var h = new Harness(
            o =>
            {
                o.WorkerCount = 1;
                o.Budget = new TopicBudgetOptions { MaxHistoryBytes = 2000, EvictAbovePercent = 50 };
            },
            start: false);
        var d = h.Dispatcher;
        var worker = d.Workers[0];
        var watcher = h.Connect("w");
        d.Subscribe(watcher.Session, "live", null, 1, 10);
        RunAll(d);
        var first = await Publish(d, "live", 12);
        Assert.True(d.Budget.HistoryBytes > 1000);

        Assert.Equal(1, d.EnforceBudget(worker));
        Assert.Equal(0, d.Budget.HistoryBytes);
        Assert.Equal(1, d.Budget.HistoriesEvicted);
        Assert.Equal(1, d.Budget.Topics); // the topic, its subscriber and its epoch stay

        var recovering = h.Connect("r");
        d.Subscribe(recovering.Session, "live", new StreamPosition(first.Epoch, 1), 2, 10);
        RunAll(d);
        recovering.Pump();
        Assert.Equal(FrameFlags.RecoveryFailed, recovering.Frames.Single().Flags);
        Assert.Equal(first.Epoch, recovering.Frames.Single().Epoch);

        // Live delivery is unaffected.
        await Publish(d, "live", 1);
        watcher.Pump();
        Assert.Equal(13, watcher.MessagesOf("live").Count);
    }

    [Fact]
    public async Task Live_state_that_cannot_fit_is_refused_as_overloaded()
    {
        await using var h = new Harness(
            o =>
            {
                o.WorkerCount = 2;
                o.Budget = new TopicBudgetOptions { MaxTopics = 2, MaxRetainedBytes = Frame("workflow:one"), MaxPendingBytes = 3 * Frame("user:bob") };
            },
            start: false);
        var d = h.Dispatcher;
        var watcher = h.Connect("w");
        d.Subscribe(watcher.Session, "workflow:one", null, 1, 10);
        RunAll(d);
        Assert.Equal(ErrorCode.None, (await Publish(d, "workflow:one", 1)).Error);

        // Retained state at its limit: an update of existing state is accepted, new state is refused.
        var user = h.Connect("u", "bob"); // a user's own topic is created even at the topic limit
        RunAll(d);
        Assert.Equal(2, d.Budget.Topics);
        Assert.Equal(ErrorCode.None, (await Publish(d, "workflow:one", 1)).Error);

        // Nothing evictable (both topics are live) and the topic limit reached: new topics are refused.
        Assert.Equal(0, d.EnforceBudget(d.Workers[0]) + d.EnforceBudget(d.Workers[1]));
        Assert.Equal(ErrorCode.Overloaded, d.TryPublish("brand-new", Priority.Normal, Payload));
        Assert.Equal(ErrorCode.Overloaded, (await d.PublishAsync("workflow:two", Priority.Normal, Payload)).Error);
        Assert.Equal(ErrorCode.Overloaded, d.Subscribe(watcher.Session, "other", null, 2, 10));
        Assert.Equal(3, d.Budget.RefusedTopics);
        Assert.Equal(2, d.Budget.Topics);

        // Pending notifications at their limit: new notifications are refused (nothing accepted is dropped).
        Assert.Equal(ErrorCode.None, (await Publish(d, "user:bob", 1)).Error);
        Assert.Equal(ErrorCode.None, (await Publish(d, "user:bob", 1)).Error);
        Assert.Equal(ErrorCode.None, (await Publish(d, "user:bob", 1)).Error);
        Assert.Equal(ErrorCode.Overloaded, (await Publish(d, "user:bob", 1)).Error);
        Assert.Equal(1, d.Budget.RefusedPending);
        RunAll(d);
        user.Pump();
        Assert.Equal(3, user.MessagesOf("user:bob").Count);
    }

    [Fact]
    public async Task Retained_state_beyond_the_limit_is_refused_for_a_new_workflow_topic()
    {
        await using var h = new Harness(o => o.Budget = new TopicBudgetOptions { MaxRetainedBytes = Frame("workflow:one") }, start: false);
        var d = h.Dispatcher;
        var watcher = h.Connect("w");
        d.Subscribe(watcher.Session, "workflow:one", null, 1, 10);
        d.Subscribe(watcher.Session, "workflow:two", null, 2, 10);
        RunAll(d);
        Assert.Equal(ErrorCode.None, (await Publish(d, "workflow:one", 1)).Error);
        Assert.Equal(ErrorCode.Overloaded, (await Publish(d, "workflow:two", 1)).Error);
        Assert.Equal(ErrorCode.None, (await Publish(d, "workflow:one", 1)).Error);
        Assert.Equal(1, d.Budget.RefusedRetained);
    }

    [Fact]
    public async Task The_idle_sweep_is_incremental_and_visits_every_topic_of_its_worker()
    {
        var time = new ManualTime();
        await using var h = new Harness(
            o =>
            {
                o.WorkerCount = 1;
                o.History = new HistoryOptions { MaxAge = TimeSpan.FromMinutes(1) };
            },
            start: false,
            time: time);
        var d = h.Dispatcher;
        var worker = d.Workers[0];
        for (var i = 0; i < 1000; i++)
        {
            Assert.Equal(ErrorCode.None, d.TryPublish($"t{i}", Priority.Normal, Payload));
            if (i % 500 == 499)
            {
                RunAll(d);
            }
        }

        // A topic created but never used on its worker is listed (last) and swept too.
        Assert.Equal(0, d.OwnerOf("never-used"));
        RunAll(d);
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(1002, d.TopicCount);

        worker.Topics.BeginPass();
        var steps = 0;
        int visited;
        long total = 0;
        while ((visited = d.SweepStep(worker, 100)) > 0)
        {
            Assert.True(visited <= 100);
            total += visited;
            steps++;
            if (steps == 3)
            {
                // Used during the pass: moves behind the cursor, is not visited twice, and the pass still ends.
                await Publish(d, "t999", 0);
            }
        }

        // 300 before the publish, then t300..t998 and "never-used": t999 (used after the pass began) ends it.
        Assert.Equal(10, steps);
        Assert.Equal(1000, total);
        Assert.Equal(1000, d.SweepVisits);
        Assert.Equal(2, d.TopicCount); // broadcast + t999, the only topic used recently
        Assert.Equal(1, d.Budget.Topics);
        Assert.False(worker.Topics.PassActive);
    }

    private static long Frame(string topic) => FrameWriter.GetMessageSize(System.Text.Encoding.UTF8.GetByteCount(topic), Payload.Length);

    private static async Task<PublishResult> Publish(Dispatcher d, string topic, int count)
    {
        PublishResult last = default;
        for (var i = 0; i < Math.Max(1, count); i++)
        {
            var task = d.PublishAsync(topic, Priority.Normal, Payload);
            RunAll(d);
            last = await task.AsTask().WaitAsync(TimeSpan.FromSeconds(20));
            if (last.Error != ErrorCode.None)
            {
                break;
            }
        }

        return last;
    }

    private static void RunAll(Dispatcher d)
    {
        int done;
        do
        {
            done = 0;
            foreach (var worker in d.Workers)
            {
                done += worker.RunCycle();
            }
        }
        while (done > 0);
    }
}
