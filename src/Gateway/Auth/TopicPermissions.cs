using System.Collections.Concurrent;
using System.Text;
using Gateway.Protocol.Topics;

namespace Gateway.Auth;

/// <summary>
/// What one token allows: the user id and its subscribe/publish patterns. Patterns: <c>*</c>
/// matches any run of characters (including none), everything else matches exactly.
/// </summary>
public sealed class TopicPermissions
{
    /// <summary>Claim holding subscribe patterns.</summary>
    public const string SubscribeClaim = "subscribe";

    /// <summary>Claim holding publish patterns.</summary>
    public const string PublishClaim = "publish";

    /// <summary>Most distinct pattern lists kept for sharing; beyond it new lists are simply not shared.</summary>
    private const int MaxSharedPatternLists = 4096;

    // Every connection holds its token's permissions for its lifetime, and most tokens carry the same few pattern
    // lists ("group:*"...): connections share one array (and its strings) per distinct list instead of each keeping
    // its own copy parsed from its token. Keyed by the exact contents, so sharing never changes what is allowed.
    // Declared before PublishAnywhere: static fields initialize in declaration order and its constructor uses this.
    private static readonly ConcurrentDictionary<string, string[]> SharedPatternLists = new(StringComparer.Ordinal);

    /// <summary>A principal that may publish anywhere (API keys).</summary>
    public static TopicPermissions PublishAnywhere { get; } = new(null, [], ["*"]);

    private readonly string[] _subscribe;
    private readonly string[] _publish;

    /// <summary>Creates permissions.</summary>
    public TopicPermissions(string? userId, string[] subscribe, string[] publish)
    {
        ArgumentNullException.ThrowIfNull(subscribe);
        ArgumentNullException.ThrowIfNull(publish);
        UserId = userId;
        _subscribe = Share(subscribe);
        _publish = Share(publish);
    }

    /// <summary>The user id (<c>sub</c>); null for API keys.</summary>
    public string? UserId { get; }

    /// <summary>Whether any publish pattern exists (a publisher token).</summary>
    public bool CanPublishSomewhere => _publish.Length > 0;

    /// <summary>
    /// Whether the holder may subscribe to <paramref name="topic"/>. Another user's notifications are
    /// never readable, whatever the patterns say; the own user topic always is.
    /// </summary>
    public bool CanSubscribe(string topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        if (topic.StartsWith(TopicRules.UserPrefix, StringComparison.Ordinal))
        {
            return UserId is not null && topic.AsSpan(TopicRules.UserPrefix.Length).SequenceEqual(UserId);
        }

        return MatchesAny(_subscribe, topic);
    }

    /// <summary>Whether the holder may publish to <paramref name="topic"/> (patterns only; no implicit rights).</summary>
    public bool CanPublish(string topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        return MatchesAny(_publish, topic);
    }

    /// <summary>Glob match where <c>*</c> is any run of characters.</summary>
    public static bool Matches(ReadOnlySpan<char> pattern, ReadOnlySpan<char> topic)
    {
        // Iterative wildcard matching with backtracking to the last star: linear for typical patterns.
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < topic.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (p < pattern.Length && pattern[p] == topic[t])
            {
                p++;
                t++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    /// <summary>The shared array with the same patterns in the same order (the given one is kept if none exists yet).</summary>
    private static string[] Share(string[] patterns)
    {
        if (patterns.Length == 0)
        {
            return [];
        }

        // Length-prefixed, so that no two different lists can make the same key whatever characters they contain.
        var key = new StringBuilder();
        foreach (var pattern in patterns)
        {
            key.Append(pattern.Length).Append(':').Append(pattern);
        }

        var text = key.ToString();
        if (SharedPatternLists.TryGetValue(text, out var shared))
        {
            return shared;
        }

        var copy = (string[])patterns.Clone();
        return SharedPatternLists.Count < MaxSharedPatternLists ? SharedPatternLists.GetOrAdd(text, copy) : copy;
    }

    private static bool MatchesAny(string[] patterns, string topic)
    {
        foreach (var pattern in patterns)
        {
            if (Matches(pattern, topic))
            {
                return true;
            }
        }

        return false;
    }
}
