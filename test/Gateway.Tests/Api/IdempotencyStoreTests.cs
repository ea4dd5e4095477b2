using System.Text.Json;
using Gateway.Api;
using Gateway.Api.Models;
using Gateway.Configuration;
using Gateway.Protocol.Errors;
using Gateway.Protocol.Frames;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.Api;

/// <summary>
/// The idempotency coordinator over a store shared by two coordinators: two nodes sharing one store, as they
/// will share Redis. A duplicate on the other node sees only the store (no in-process task to await), so
/// this is the path a shared store takes.
/// </summary>
public sealed class IdempotencyStoreTests
{
    private static readonly IOptions<GatewayOptions> Options = Microsoft.Extensions.Options.Options.Create(new GatewayOptions());
    private static readonly string Fingerprint = IdempotencyCache.Fingerprint("key:tests", PublishOperation.Publish, "team:1", Priority.Normal, "1"u8);

    private readonly InMemoryIdempotencyStore _store = new(Options, TimeProvider.System);

    [Fact]
    public async Task A_duplicate_on_another_node_waits_for_the_first_and_gets_its_result()
    {
        var (nodeA, nodeB) = (Node(), Node());
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = nodeA.GetOrRunAsync("key:tests", "k", Fingerprint, async () =>
        {
            await gate.Task;
            return new ApiOutcome(new PublishResponse("team:1", 1, 41), null);
        });

        var duplicateRuns = 0;
        var duplicate = nodeB.GetOrRunAsync("key:tests", "k", Fingerprint, () =>
        {
            Interlocked.Increment(ref duplicateRuns);
            return Task.FromResult(new ApiOutcome(new PublishResponse("team:1", 1, 99), null));
        });

        // In flight: a different request with the key is refused at once, the same one waits.
        var other = await nodeB.GetOrRunAsync("key:tests", "k", IdempotencyCache.Fingerprint("key:tests", PublishOperation.Publish, "team:1", Priority.Normal, "2"u8), () => throw new InvalidOperationException("must not run"));
        Assert.Equal((int)ErrorCode.IdempotencyConflict, other.Error?.Code);
        Assert.Equal(422, other.Error?.Status);
        Assert.False(duplicate.IsCompleted);

        gate.SetResult();
        Assert.Equal(41UL, (await first).Response?.Offset);
        Assert.Equal(41UL, (await duplicate.WaitAsync(TimeSpan.FromSeconds(30))).Response?.Offset);
        Assert.Equal(0, duplicateRuns);
    }

    [Fact]
    public async Task A_failed_first_attempt_frees_the_key_and_the_waiting_duplicate_runs_itself()
    {
        var (nodeA, nodeB) = (Node(), Node());
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = nodeA.GetOrRunAsync("key:tests", "k", Fingerprint, async () =>
        {
            await gate.Task;
            return ApiOutcome.Fail(ErrorCode.Overloaded, "full");
        });
        var duplicate = nodeB.GetOrRunAsync("key:tests", "k", Fingerprint, () => Task.FromResult(new ApiOutcome(new PublishResponse("team:1", 1, 7), null)));
        Assert.False(duplicate.IsCompleted);

        gate.SetResult();
        Assert.Equal((int)ErrorCode.Overloaded, (await first).Error?.Code);
        Assert.Equal(7UL, (await duplicate.WaitAsync(TimeSpan.FromSeconds(30))).Response?.Offset);
        Assert.Equal(7UL, (await nodeA.GetOrRunAsync("key:tests", "k", Fingerprint, () => throw new InvalidOperationException("must not run"))).Response?.Offset);
    }

    [Fact]
    public void The_record_round_trips_as_json_and_the_fingerprint_covers_every_part_of_the_request()
    {
        var record = new IdempotencyRecord(Fingerprint, "r1", new PublishResponse("team:1", 3, 9));
        var json = JsonSerializer.Serialize(record, GatewayJsonContext.Default.IdempotencyRecord);
        Assert.Equal(record, JsonSerializer.Deserialize(json, GatewayJsonContext.Default.IdempotencyRecord));

        Assert.Matches("^[0-9a-f]{64}$", Fingerprint);
        Assert.Equal(Fingerprint, IdempotencyCache.Fingerprint("key:tests", PublishOperation.Publish, "team:1", Priority.Normal, "1"u8));
        string[] variants =
        [
            IdempotencyCache.Fingerprint("key:other", PublishOperation.Publish, "team:1", Priority.Normal, "1"u8),
            IdempotencyCache.Fingerprint("key:tests", PublishOperation.Broadcast, "team:1", Priority.Normal, "1"u8),
            IdempotencyCache.Fingerprint("key:tests", PublishOperation.Publish, "team:2", Priority.Normal, "1"u8),
            IdempotencyCache.Fingerprint("key:tests", PublishOperation.Publish, "team:1", Priority.High, "1"u8),
            IdempotencyCache.Fingerprint("key:tests", PublishOperation.Publish, "team:1", Priority.Normal, "2"u8),
            IdempotencyCache.Fingerprint("key:tests", PublishOperation.Publish, "team:11", Priority.Normal, ""u8),
        ];
        Assert.Equal(variants.Length + 1, variants.Append(Fingerprint).Distinct().Count());
    }

    private IdempotencyCache Node() => new(_store, Options, TimeProvider.System, NullLogger<IdempotencyCache>.Instance);
}
