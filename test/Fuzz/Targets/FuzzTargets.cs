namespace Gateway.Fuzz.Targets;

/// <summary>
/// Every fuzz target, by name: the harness, the CI budget test and the corpus layout (corpus/&lt;name&gt;/) pick
/// a target up from this list with no other change.
/// </summary>
internal static class FuzzTargets
{
    /// <summary>All targets.</summary>
    public static IReadOnlyList<IFuzzTarget> All { get; } =
    [
        new FrameReaderTarget(),
        new StreamSplitTarget(),
        new WebSocketFrameTarget(),
    ];

    /// <summary>The target called <paramref name="name"/>.</summary>
    public static IFuzzTarget Get(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"Unknown fuzz target '{name}'; known: {string.Join(", ", All.Select(t => t.Name))}.", nameof(name));
}
