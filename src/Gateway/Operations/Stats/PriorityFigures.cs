namespace Gateway.Operations.Stats;

/// <summary>One figure per message priority.</summary>
internal sealed record PriorityFigures(double Critical, double High, double Normal, double Low)
{
    /// <summary>All zero.</summary>
    public static readonly PriorityFigures Zero = new(0, 0, 0, 0);

    /// <summary>Builds from a list indexed by priority (critical = 0 … low = 3).</summary>
    public static PriorityFigures From(IReadOnlyList<double> values) =>
        new(At(values, 0), At(values, 1), At(values, 2), At(values, 3));

    /// <summary>Sum over the priorities.</summary>
    public double Total => Critical + High + Normal + Low;

    private static double At(IReadOnlyList<double> values, int i) => i < values.Count ? values[i] : 0;
}
