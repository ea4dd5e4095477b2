namespace Gateway.Fuzz.Targets;

/// <summary>
/// Every fuzz target, by name. Extension point: the WebSocket frame parser (src/Protocol/WebSockets, another
/// branch) gets a <c>WebSocketFrameTarget</c> here once merged, feeding arbitrary bytes through its parse loop
/// the way <see cref="StreamSplitTarget"/> does for the TCP path; the harness, the CI budget test and the corpus
/// layout (corpus/&lt;name&gt;/) pick it up from this list with no other change.
/// </summary>
internal static class FuzzTargets
{
    /// <summary>All targets.</summary>
    public static IReadOnlyList<IFuzzTarget> All { get; } =
    [
        new FrameReaderTarget(),
        new StreamSplitTarget(),
    ];

    /// <summary>The target called <paramref name="name"/>.</summary>
    public static IFuzzTarget Get(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"Unknown fuzz target '{name}'; known: {string.Join(", ", All.Select(t => t.Name))}.", nameof(name));
}
