using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gateway.Auth;

/// <summary>
/// The Development key file: a generated HS256 secret and API key, shared by the server and the
/// <c>gateway token</c> / <c>gateway apikey</c> commands so <c>dotnet run</c> works out of the box.
/// Never used outside Development.
/// </summary>
public sealed class DevKeys
{
    /// <summary>Key id of the dev signing key.</summary>
    public const string KeyId = "dev";

    /// <summary>Base64 HS256 secret.</summary>
    public string Secret { get; set; } = "";

    /// <summary>The dev API key in clear (the file is the developer's own, mode 0600).</summary>
    public string ApiKey { get; set; } = "";

    /// <summary>Default location: <c>~/.archmesh/dev-keys.json</c>.</summary>
    public static string DefaultPath =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".archmesh", "dev-keys.json");

    /// <summary>Loads the file, creating it with fresh random keys when missing.</summary>
    /// <returns>The keys and whether the file was created now.</returns>
    public static (DevKeys Keys, bool Created) LoadOrCreate(string? path)
    {
        path = string.IsNullOrWhiteSpace(path) ? DefaultPath : path;
        if (File.Exists(path))
        {
            var existing = JsonSerializer.Deserialize(File.ReadAllText(path), DevKeysJsonContext.Default.DevKeys);
            if (existing is not null && existing.Secret.Length > 0 && existing.ApiKey.Length > 0)
            {
                return (existing, false);
            }
        }

        var keys = new DevKeys
        {
            Secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ApiKey = "dev_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)),
        };
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(keys, DevKeysJsonContext.Default.DevKeys));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.Move(temp, path, overwrite: true);
        return (keys, true);
    }
}

/// <summary>Source-generated JSON for <see cref="DevKeys"/>.</summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(DevKeys))]
internal sealed partial class DevKeysJsonContext : JsonSerializerContext
{
}
