using System.Text.Json;

namespace Gateway.Fuzz.Targets;

/// <summary>Turns the golden vectors (test/vectors/*.json) into seed inputs in each target's input layout.</summary>
internal static class SeedCorpus
{
    /// <summary>Every vector's bytes (valid and invalid), by vector name.</summary>
    public static IEnumerable<(string Name, byte[] Bytes)> Vectors(string vectorsDirectory)
    {
        foreach (var file in new[] { "valid.json", "invalid.json" })
        {
            using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(vectorsDirectory, file)));
            foreach (var vector in document.RootElement.GetProperty("vectors").EnumerateArray())
            {
                yield return (vector.GetProperty("name").GetString()!, Convert.FromHexString(vector.GetProperty("hex").GetString()!));
            }
        }
    }

    /// <summary>A stream in the input layout of <paramref name="target"/>: limits selector 0 / a few reads of 1, 5 and 7 bytes.</summary>
    public static byte[] Encode(IFuzzTarget target, byte[] stream) => target switch
    {
        StreamSplitTarget => [3, 0, 1, 0, 5, 0, 7, .. stream],
        _ => [0, .. stream],
    };

    /// <summary>Writes the seed corpus of <paramref name="target"/>; returns the number of files.</summary>
    public static int Write(IFuzzTarget target, string vectorsDirectory, string outputDirectory)
    {
        Directory.CreateDirectory(outputDirectory);
        var count = 0;
        foreach (var (name, bytes) in Vectors(vectorsDirectory))
        {
            File.WriteAllBytes(Path.Combine(outputDirectory, name), Encode(target, bytes));
            count++;
        }

        return count;
    }
}
