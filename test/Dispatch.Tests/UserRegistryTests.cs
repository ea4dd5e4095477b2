using Gateway.Protocol;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;

namespace Gateway.Dispatch.Tests;

/// <summary>
/// The per-user registry: O(1) add/remove (swap-remove with the index kept in the session), exact after
/// removals anywhere in the middle, and the per-user cap applied atomically at connect.
/// </summary>
public sealed class UserRegistryTests
{
    private static byte[] P(string s) => System.Text.Encoding.UTF8.GetBytes(s);

    [Fact]
    public async Task Removing_connections_from_the_middle_keeps_the_registry_and_user_fan_out_exact()
    {
        await using var h = new Harness();
        var d = h.Dispatcher;
        var all = Enumerable.Range(0, 300).Select(i => h.Connect("c" + i, "alice")).ToList();
        Assert.Equal(300, d.GetUserConnectionCount("alice"));

        // Every third one, then the first and the last: removals from the middle and both ends.
        var removed = all.Where((_, i) => i % 3 == 1).Append(all[0]).Append(all[^1]).ToHashSet();
        foreach (var inbox in removed)
        {
            d.Disconnect(inbox.Session);
            d.Disconnect(inbox.Session); // idempotent: the second is a no-op, not a second removal
        }

        var remaining = all.Where(i => !removed.Contains(i)).ToList();
        Assert.Equal(remaining.Count, d.GetUserConnectionCount("alice"));
        Assert.Equal(
            remaining.Select(i => (object?)i.Session).ToHashSet(ReferenceEqualityComparer.Instance),
            d.GetUserSessions("alice").Select(s => (object?)s).ToHashSet(ReferenceEqualityComparer.Instance));

        Assert.Equal(ErrorCode.None, d.TryPublish("user:alice", Priority.High, P("n1")));
        foreach (var inbox in remaining)
        {
            Assert.True(await inbox.WaitForMessagesAsync(1), inbox.Session.ToString());
        }

        // Exactly once each (live or replayed as pending, depending on when the attach ran), none to the removed.
        await Task.Delay(50);
        Assert.All(remaining, i => Assert.Equal("n1", System.Text.Encoding.UTF8.GetString(Assert.Single(i.MessagesOf("user:alice")).Payload)));
        Assert.All(removed, i => Assert.Empty(i.MessagesOf("user:alice")));

        // Emptying the user drops its entry; a new connection starts a fresh one.
        foreach (var inbox in remaining)
        {
            d.Disconnect(inbox.Session);
        }

        Assert.Equal(0, d.GetUserConnectionCount("alice"));
        Assert.Empty(d.GetUserSessions("alice"));
        var again = h.Connect("again", "alice");
        Assert.Same(again.Session, Assert.Single(d.GetUserSessions("alice")));
    }

    [Fact]
    public async Task Connection_past_the_per_user_cap_is_refused_before_registration_and_a_freed_slot_is_reusable()
    {
        await using var h = new Harness();
        var d = h.Dispatcher;
        var sessions = new List<Session>();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(ErrorCode.None, d.TryConnect("u" + i, "bob", 3, null, out var s));
            sessions.Add(s!);
        }

        // The refused connection's first frame is released (the harness's pool asserts no leak at the end).
        var connected = d.Pool.Rent(64);
        Assert.Equal(ErrorCode.UserConnectionLimit, d.TryConnect("u3", "bob", 3, connected, out var refused));
        Assert.Null(refused);
        Assert.Null(d.FindSession("u3"));
        Assert.Equal(3, d.ConnectionCount);
        Assert.Equal(3, d.GetUserConnectionCount("bob"));

        // Other users and service connections (no user) are not affected by bob's cap.
        Assert.Equal(ErrorCode.None, d.TryConnect("other", "carol", 3, null, out var carol));
        Assert.Equal(ErrorCode.None, d.TryConnect("service", null, 1, null, out var service));
        Assert.Equal(ErrorCode.None, d.TryConnect("service2", null, 1, null, out var service2));

        // The refused id was never registered, so it can be used once a slot is free.
        d.Disconnect(sessions[1]);
        Assert.Equal(ErrorCode.None, d.TryConnect("u3", "bob", 3, null, out var fourth));
        Assert.Equal(ErrorCode.UserConnectionLimit, d.TryConnect("u4", "bob", 3, null, out _));
        Assert.Equal(3, d.GetUserConnectionCount("bob"));

        foreach (var s in new[] { sessions[0], sessions[2], fourth!, carol!, service!, service2! })
        {
            d.Disconnect(s);
        }

        Assert.Equal(0, d.ConnectionCount);
    }

    [Fact]
    public async Task Concurrent_connects_and_disconnects_of_one_user_never_exceed_the_cap_and_leave_nothing_behind()
    {
        await using var h = new Harness();
        var d = h.Dispatcher;
        const int Cap = 3;
        var live = 0;
        var maxLive = 0;
        var accepted = 0;
        var refusedCount = 0;
        var tasks = Enumerable.Range(0, 6).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 400; i++)
            {
                if (d.TryConnect($"t{t}-{i}", "dora", Cap, null, out var s) != ErrorCode.None)
                {
                    Interlocked.Increment(ref refusedCount);
                    continue;
                }

                Interlocked.Increment(ref accepted);
                var now = Interlocked.Increment(ref live);
                InterlockedMax(ref maxLive, now);
                Assert.True(d.GetUserConnectionCount("dora") <= Cap);
                Interlocked.Decrement(ref live);
                d.Disconnect(s!);
            }
        })).ToArray();
        await Task.WhenAll(tasks);

        Assert.True(maxLive <= Cap, $"{maxLive} live connections of one user with a cap of {Cap}");
        Assert.Equal(2400, accepted + refusedCount);
        Assert.True(accepted > 0);
        Assert.Equal(0, d.GetUserConnectionCount("dora"));
        Assert.Empty(d.GetUserSessions("dora"));
        Assert.Equal(0, d.ConnectionCount);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
