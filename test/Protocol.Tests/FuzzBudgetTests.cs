using System.Buffers.Binary;
using System.Diagnostics;
using CsCheck;
using Gateway.Fuzz.Targets;
using Xunit.Abstractions;

namespace Gateway.Protocol.Tests;

/// <summary>
/// The CI run of the fuzz targets of test/Fuzz (docs/fuzzing.md) without AFL: a fixed time budget per target of
/// CsCheck-generated inputs, mutated from the golden vectors (test/vectors) and the regression corpus
/// (test/Fuzz/corpus), plus plain random bytes. Each input must be handled without any exception but the typed
/// <see cref="Errors.ProtocolException"/> (the targets check that and their own promises), within a per-input time
/// limit (a hang fails the test, naming the input) and with allocation bounded by the input's size.
/// Budget: <c>FUZZ_BUDGET_SECONDS</c> per target (default 12).
/// </summary>
public sealed class FuzzBudgetTests(ITestOutputHelper output)
{
    /// <summary>An input taking this long is a hang (a liveness bound: inputs take microseconds).</summary>
    private static readonly TimeSpan PerInputTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Largest generated input.</summary>
    private const int MaxInput = 128 * 1024;

    /// <summary>Allocation allowed per input: a fixed part (an exception with its message and stack trace, a pipe) plus a multiple of the input.</summary>
    private const long AllocationFixed = 64 * 1024;

    private const long AllocationPerInputByte = 16;

    private static readonly Lazy<IReadOnlyList<byte[]>> Seeds = new(LoadSeeds);

    public static TheoryData<string> TargetNames()
    {
        var data = new TheoryData<string>();
        foreach (var target in FuzzTargets.All)
        {
            data.Add(target.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(TargetNames))]
    public void Regression_corpus_and_seed_vectors_pass(string name)
    {
        var target = FuzzTargets.Get(name);
        var corpus = Path.Combine(FindRepositoryDirectory("test/Fuzz/corpus"), name);
        var files = Directory.Exists(corpus) ? Directory.GetFiles(corpus).Order(StringComparer.Ordinal).ToList() : [];
        foreach (var file in files)
        {
            target.Run(File.ReadAllBytes(file));
        }

        var vectors = SeedCorpus.Vectors(FindRepositoryDirectory("test/vectors")).ToList();
        foreach (var (_, bytes) in vectors)
        {
            target.Run(SeedCorpus.Encode(target, bytes));
        }

        Assert.NotEmpty(vectors);
        output.WriteLine($"{name}: {files.Count} regression inputs, {vectors.Count} vectors");
    }

    [Theory]
    [MemberData(nameof(TargetNames))]
    public async Task Fixed_budget_of_mutated_and_random_inputs_finds_nothing(string name)
    {
        var target = FuzzTargets.Get(name);
        var budget = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_BUDGET_SECONDS"), out var seconds) && seconds > 0 ? seconds : 12;
        var seeds = Seeds.Value;

        // Mutations of a seed: each ulong is one instruction (kind, position, value), so CsCheck can shrink a failure.
        var mutated = Gen.Select(Gen.Int[0, seeds.Count - 1], Gen.ULong.Array[1, 8], Gen.Int[0, seeds.Count - 1], (seed, instructions, other) => Mutate(seeds[seed], seeds[other], instructions));
        var random = Gen.Byte.Array[0, 600];
        var layout = Gen.Byte.Array[0, 64];
        var inputs = Gen.Select(Gen.Frequency((4, mutated), (1, random)), layout, (stream, prefix) => Layout(target, stream, prefix));

        var current = Tuple.Create(Array.Empty<byte>(), 0L);
        var count = 0L;
        var maxAllocated = 0L;
        var run = Task.Factory.StartNew(
            () => inputs.Sample(
                input =>
                {
                    Volatile.Write(ref current, Tuple.Create(input, Stopwatch.GetTimestamp()));
                    var before = GC.GetAllocatedBytesForCurrentThread();
                    target.Run(input);
                    var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                    Volatile.Write(ref current, Tuple.Create(input, 0L));
                    count++;
                    maxAllocated = Math.Max(maxAllocated, allocated);
                    Assert.True(
                        allocated <= AllocationFixed + (AllocationPerInputByte * input.Length),
                        $"{name}: {allocated} bytes allocated for a {input.Length}-byte input {Convert.ToHexStringLower(input.AsSpan(0, Math.Min(input.Length, 256)))}");
                },
                threads: 1,
                time: budget,
                print: input => Convert.ToHexStringLower(input)),
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        while (!run.IsCompleted)
        {
            await Task.WhenAny(run, Task.Delay(250));
            var (input, started) = Volatile.Read(ref current);
            if (started != 0 && Stopwatch.GetElapsedTime(started) > PerInputTimeout)
            {
                Assert.Fail($"{name}: an input has run for more than {PerInputTimeout.TotalSeconds} s (hang): {Convert.ToHexStringLower(input)}");
            }
        }

        await run;
        Assert.True(count > 0, "no input ran");
        output.WriteLine($"{name}: {count} inputs in {budget} s from {seeds.Count} seeds; most allocated for one input: {maxAllocated} bytes");
    }

    /// <summary>Applies mutation instructions to a copy of <paramref name="seed"/> (AFL-style: flips, sets, interesting lengths, inserts, deletes, splices).</summary>
    internal static byte[] Mutate(byte[] seed, byte[] other, ulong[] instructions)
    {
        var data = new List<byte>(seed);
        foreach (var instruction in instructions)
        {
            var kind = (int)(instruction & 0x7);
            var value = (byte)(instruction >> 8);
            var position = data.Count == 0 ? 0 : (int)((instruction >> 16) % (ulong)data.Count);
            var length = (int)((instruction >> 40) % 64) + 1;
            switch (kind)
            {
                case 0 when data.Count > 0:
                    data[position] ^= (byte)(1 << (value & 7));
                    break;
                case 1 when data.Count > 0:
                    data[position] = value;
                    break;
                case 2:
                    data.InsertRange(position, Enumerable.Repeat(value, length));
                    break;
                case 3 when data.Count > 0:
                    data.RemoveRange(position, Math.Min(length, data.Count - position));
                    break;
                case 4 when data.Count >= 4:
                    {
                        // An interesting declared length at a frame-header-like position.
                        uint[] interesting = [0, 1, 5, 6, 63, 64, 65, 255, 256, 8192, 65535, 65536, 65537, 16 * 1024 * 1024, 0x7FFFFFFF, 0xFFFFFFFF];
                        var at = Math.Min(position, data.Count - 4);
                        var bytes = new byte[4];
                        BinaryPrimitives.WriteUInt32BigEndian(bytes, interesting[value % interesting.Length]);
                        for (var i = 0; i < 4; i++)
                        {
                            data[at + i] = bytes[i];
                        }

                        break;
                    }

                case 5 when data.Count > 0:
                    data.InsertRange(position, data.GetRange(position, Math.Min(length, data.Count - position)));
                    break;
                case 6 when other.Length > 0:
                    {
                        var from = (int)((instruction >> 24) % (ulong)other.Length);
                        data.InsertRange(position, other.AsSpan(from, Math.Min(length * 4, other.Length - from)).ToArray());
                        break;
                    }

                case 7 when data.Count > 0:
                    data.RemoveRange(position, data.Count - position);
                    break;
            }

            if (data.Count > MaxInput)
            {
                data.RemoveRange(MaxInput, data.Count - MaxInput);
            }
        }

        return [.. data];
    }

    /// <summary>A stream in a target's input layout, the layout bytes (limits selector, read sizes) generated too.</summary>
    private static byte[] Layout(IFuzzTarget target, byte[] stream, byte[] prefix) => target switch
    {
        StreamSplitTarget => [(byte)(prefix.Length / 2), .. prefix.AsSpan(0, prefix.Length / 2 * 2), .. stream],
        _ => [prefix.Length > 0 ? prefix[0] : (byte)0, .. stream],
    };

    private static List<byte[]> LoadSeeds()
    {
        var seeds = SeedCorpus.Vectors(FindRepositoryDirectory("test/vectors")).Select(v => v.Bytes).ToList();
        var corpus = FindRepositoryDirectory("test/Fuzz/corpus");
        foreach (var target in FuzzTargets.All)
        {
            var folder = Path.Combine(corpus, target.Name);
            if (Directory.Exists(folder))
            {
                // Regression inputs are in their target's layout; as seeds the layout bytes are just more bytes to mutate.
                seeds.AddRange(Directory.GetFiles(folder).Order(StringComparer.Ordinal).Select(File.ReadAllBytes));
            }
        }

        return seeds;
    }

    private static string FindRepositoryDirectory(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
    }
}
