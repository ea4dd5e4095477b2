using Gateway.Fuzz.Targets;
using SharpFuzz;

// SharpFuzz harness: `Gateway.Fuzz <target> [afl|libfuzzer|replay <file-or-dir>...]` (docs/fuzzing.md).
// afl: AFL++ out-of-process mode (afl-fuzz -i corpus/<target> ... -- dotnet Gateway.Fuzz.dll <target>).
// libfuzzer: libfuzzer-dotnet mode. replay: runs files once (a crash reproduces; exit 0 = all handled).
if (args.Length == 0)
{
    Console.Error.WriteLine($"usage: Gateway.Fuzz <target> [afl|libfuzzer|seed <out-dir> [vectors-dir]|replay <path>...]; targets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
    return 2;
}

var target = FuzzTargets.Get(args[0]);
var mode = args.Length > 1 ? args[1] : "afl";
switch (mode)
{
    case "afl":
        Fuzzer.OutOfProcess.Run(stream =>
        {
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            target.Run(copy.GetBuffer().AsSpan(0, (int)copy.Length));
        });
        return 0;
    case "libfuzzer":
        Fuzzer.LibFuzzer.Run(span => target.Run(span));
        return 0;
    case "seed":
        // Seed corpus for afl-fuzz -i: every golden vector (test/vectors) in this target's input layout.
        var outDir = args.Length > 2 ? args[2] : Path.Combine("seeds", target.Name);
        var count = SeedCorpus.Write(target, args.Length > 3 ? args[3] : Path.Combine("test", "vectors"), outDir);
        Console.WriteLine($"{target.Name}: {count} seed inputs written to {outDir}");
        return 0;
    case "replay":
        var files = args.Skip(2).SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories) : [p]).Order(StringComparer.Ordinal).ToList();
        foreach (var file in files)
        {
            target.Run(File.ReadAllBytes(file));
        }

        Console.WriteLine($"{target.Name}: {files.Count} inputs replayed, none failed.");
        return 0;
    default:
        Console.Error.WriteLine($"unknown mode '{mode}' (afl, libfuzzer, replay)");
        return 2;
}
