using System.Text.Json;

namespace Gateway.Client.Tests.Infrastructure;

/// <summary>Loads the golden vectors from test/vectors (found by walking up from the test binaries to the repository root).</summary>
public static class Vectors
{
    private static readonly Lazy<string> Folder = new(FindFolder);

    public static JsonElement Valid(string name) => Find("valid.json", name);

    public static JsonElement Invalid(string name) => Find("invalid.json", name);

    public static TheoryData<string> ValidNames() => Names("valid.json", _ => true);

    public static TheoryData<string> InvalidErrorNames() => Names("invalid.json", v => v.TryGetProperty("error", out _));

    public static TheoryData<string> InvalidNeedMoreNames() => Names("invalid.json", v => v.TryGetProperty("needMore", out _));

    public static byte[] Bytes(JsonElement vector) => Convert.FromHexString(vector.GetProperty("hex").GetString()!);

    /// <summary>A 64-bit field: a decimal string per the vector schema (a plain number is accepted too).</summary>
    public static ulong U64(JsonElement frame, string field)
    {
        var value = frame.GetProperty(field);
        return value.ValueKind == JsonValueKind.String ? ulong.Parse(value.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : value.GetUInt64();
    }

    public static uint U32(JsonElement frame, string field) => frame.GetProperty(field).GetUInt32();

    public static string Str(JsonElement frame, string field) => frame.GetProperty(field).GetString()!;

    private static JsonElement Find(string file, string name)
    {
        foreach (var vector in Load(file))
        {
            if (vector.GetProperty("name").GetString() == name)
            {
                return vector;
            }
        }

        throw new InvalidOperationException($"No vector '{name}' in {file}.");
    }

    private static TheoryData<string> Names(string file, Func<JsonElement, bool> filter)
    {
        var data = new TheoryData<string>();
        foreach (var vector in Load(file))
        {
            if (filter(vector))
            {
                data.Add(vector.GetProperty("name").GetString()!);
            }
        }

        return data;
    }

    private static JsonElement.ArrayEnumerator Load(string file)
    {
        using var stream = File.OpenRead(Path.Combine(Folder.Value, file));
        var document = JsonDocument.Parse(stream);
        return document.RootElement.GetProperty("vectors").Clone().EnumerateArray();
    }

    private static string FindFolder()
    {
        // Override for builds outside the repository tree.
        if (Environment.GetEnvironmentVariable("ARCHMESH_VECTORS") is { Length: > 0 } overridden)
        {
            return overridden;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "test", "vectors");
            if (File.Exists(Path.Combine(candidate, "valid.json")) && File.Exists(Path.Combine(dir.FullName, "Gateway.sln")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"test/vectors not found above {AppContext.BaseDirectory}.");
    }
}
