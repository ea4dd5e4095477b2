using System.Text.Json.Nodes;
using Gateway.Protocol.Errors;

namespace Gateway.Protocol.Tests;

/// <summary>A valid golden vector: the input and the frames it decodes to.</summary>
internal sealed record ValidVector(string Name, byte[] Bytes, JsonArray Frames);

/// <summary>An invalid golden vector: the input and the error (or null for need-more) it must produce.</summary>
internal sealed record InvalidVector(string Name, byte[] Bytes, ErrorCode? Code, string? CodeName);

/// <summary>Reads the committed golden vector files (copied next to the test assembly).</summary>
internal static class Vectors
{
    private static readonly Lazy<IReadOnlyList<ValidVector>> LazyValid = new(LoadValid);
    private static readonly Lazy<IReadOnlyList<InvalidVector>> LazyInvalid = new(LoadInvalid);

    public static IReadOnlyList<ValidVector> Valid => LazyValid.Value;

    public static IReadOnlyList<InvalidVector> Invalid => LazyInvalid.Value;

    public static IEnumerable<object[]> ValidNames => Valid.Select(v => new object[] { v.Name });

    public static IEnumerable<object[]> InvalidNames => Invalid.Select(v => new object[] { v.Name });

    public static ValidVector GetValid(string name) => Valid.Single(v => v.Name == name);

    public static InvalidVector GetInvalid(string name) => Invalid.Single(v => v.Name == name);

    public static JsonObject LoadFile(string file)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "vectors", file);
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        if ((int)root["protocol"]! != 1 || (int)root["maxFrameLength"]! != ProtocolLimits.DefaultMaxFrameLength)
        {
            throw new InvalidOperationException($"{file}: unexpected protocol or maxFrameLength.");
        }

        return root;
    }

    private static List<ValidVector> LoadValid() =>
        LoadFile("valid.json")["vectors"]!.AsArray()
            .Select(v => new ValidVector((string)v!["name"]!, Convert.FromHexString((string)v["hex"]!), v["frames"]!.AsArray()))
            .ToList();

    private static List<InvalidVector> LoadInvalid() =>
        LoadFile("invalid.json")["vectors"]!.AsArray()
            .Select(v =>
            {
                var error = v!["error"];
                return new InvalidVector(
                    (string)v["name"]!,
                    Convert.FromHexString((string)v["hex"]!),
                    error is null ? null : (ErrorCode)(ushort)(int)error["code"]!,
                    error is null ? null : (string)error["name"]!);
            })
            .ToList();
}
