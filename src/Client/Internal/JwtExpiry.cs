using System.Buffers.Text;
using System.Text.Json;

namespace Gateway.Client.Internal;

/// <summary>Reads the <c>exp</c> claim of a JWT without validating it (only to schedule a refresh).</summary>
internal static class JwtExpiry
{
    public static DateTimeOffset? Read(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }

        try
        {
            var json = Base64Url.DecodeFromChars(parts[1]);
            using var document = JsonDocument.Parse(json);
            return document.RootElement.TryGetProperty("exp", out var exp) && exp.TryGetInt64(out var seconds)
                ? DateTimeOffset.FromUnixTimeSeconds(seconds)
                : null;
        }
        catch (Exception ex) when (ex is FormatException or JsonException or ArgumentException)
        {
            return null;
        }
    }
}
