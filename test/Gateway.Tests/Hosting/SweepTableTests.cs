using Gateway.Hosting;

namespace Gateway.Tests.Hosting;

/// <summary>
/// The connection registry's table: O(1) add/remove that stays consistent under concurrency, and a budgeted sweep that
/// visits every item at least once per round of ceil(N / budget) calls while items come and go.
/// </summary>
public sealed class SweepTableTests
{
    [Fact]
    public void A_round_takes_ceil_n_over_budget_sweeps_and_visits_every_item_once()
    {
        var table = new SweepTable<Item>();
        var items = Enumerable.Range(0, 1_000).Select(i => new Item(i)).ToArray();
        Assert.All(items, i => Assert.True(table.Add(i)));
        Assert.False(table.Add(items[0]));

        var visitor = new CountingVisitor();
        var sweeps = 0;
        bool finished;
        do
        {
            finished = table.Sweep(64, ref visitor);
            sweeps++;
        }
        while (!finished);

        Assert.Equal(16, sweeps); // ceil(1000 / 64)
        Assert.All(items, i => Assert.Equal(1, i.Visits));

        // The next sweep starts a new round at the top.
        Assert.False(table.Sweep(64, ref visitor));
        Assert.Equal(1_064, items.Sum(i => i.Visits));
    }

    [Fact]
    public void Removing_swaps_the_last_item_in_and_the_table_stays_consistent()
    {
        var table = new SweepTable<Item>();
        var items = Enumerable.Range(0, 10).Select(i => new Item(i)).ToArray();
        foreach (var item in items)
        {
            table.Add(item);
        }

        Assert.True(table.Remove(items[3]));
        Assert.True(table.Remove(items[9]));
        Assert.False(table.Remove(items[3]));
        Assert.True(table.Remove(items[0]));

        Assert.Equal(7, table.Count);
        Assert.Equal(items.Where(i => i.Id is not (0 or 3 or 9)).Select(i => i.Id).Order(), table.ToArray().Select(i => i.Id).Order());
        var visitor = new CountingVisitor();
        Assert.True(table.Sweep(100, ref visitor));
        Assert.All(table.ToArray(), i => Assert.Equal(1, i.Visits));
        Assert.All(new[] { items[0], items[3], items[9] }, i => Assert.Equal(0, i.Visits));
    }

    [Fact]
    public async Task Under_concurrent_adds_and_removes_every_item_present_for_a_whole_round_is_visited_in_it()
    {
        var table = new SweepTable<Item>();
        var stable = Enumerable.Range(0, 2_000).Select(i => new Item(i)).ToArray();
        foreach (var item in stable)
        {
            table.Add(item);
        }

        using var stop = new CancellationTokenSource();
        var churners = Enumerable.Range(0, 3).Select(t => Task.Run(() =>
        {
            // Each churner adds and removes its own items: the table grows, shrinks and swaps stable items down.
            var mine = new List<Item>();
            var random = new Random(t);
            var next = 100_000 * (t + 1);
            while (!stop.IsCancellationRequested)
            {
                if (mine.Count < 500 && random.Next(2) == 0)
                {
                    var item = new Item(next++);
                    Assert.True(table.Add(item));
                    mine.Add(item);
                }
                else if (mine.Count > 0)
                {
                    var index = random.Next(mine.Count);
                    Assert.True(table.Remove(mine[index]));
                    mine.RemoveAt(index);
                }
            }

            return mine;
        })).ToArray();

        var rounds = 0;
        var visitor = new CountingVisitor();
        while (rounds < 200)
        {
            // One round with a small budget (many sweeps, many swaps in between): each stable item at least once.
            foreach (var item in stable)
            {
                item.Visits = 0;
            }

            while (!table.Sweep(37, ref visitor))
            {
                Thread.Yield();
            }

            Assert.All(stable, i => Assert.True(i.Visits >= 1, $"stable item {i.Id} not visited in round {rounds}"));
            rounds++;
        }

        await stop.CancelAsync();
        var remaining = (await Task.WhenAll(churners)).SelectMany(m => m).ToList();

        var expected = stable.Select(i => i.Id).Concat(remaining.Select(i => i.Id)).Order().ToArray();
        Assert.Equal(expected.Length, table.Count);
        Assert.Equal(expected, table.ToArray().Select(i => i.Id).Order().ToArray());
        foreach (var item in remaining)
        {
            Assert.True(table.Remove(item));
        }

        Assert.Equal(stable.Length, table.Count);
    }

    private sealed class Item(int id)
    {
        public int Id { get; } = id;

        public int Visits { get; set; }
    }

    private struct CountingVisitor : ISweepVisitor<Item>
    {
        public void Visit(Item item) => item.Visits++;
    }
}
