namespace Gateway.Tests.Hostile;

/// <summary>When a hostile case runs: lower stages first (see <see cref="HostileOrderer"/>); unmarked cases are stage 0.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class HostileStageAttribute(int stage) : Attribute
{
    /// <summary>The stage.</summary>
    public int Stage { get; } = stage;
}
