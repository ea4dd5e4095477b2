namespace Gateway.Operations.Metrics;

/// <summary>
/// The tag values of one measurement, in the instrument's fixed label order. A value type compared by
/// value so the per-measurement lookup of the series allocates nothing.
/// </summary>
internal readonly record struct TagKey(object? V0, object? V1, object? V2, object? V3, object? V4, object? V5)
{
    /// <summary>The most labels one bridged series carries; further tags are dropped.</summary>
    public const int MaxLabels = 6;

    /// <summary>Returns a copy with slot <paramref name="index"/> set to <paramref name="value"/>.</summary>
    public TagKey With(int index, object? value) => index switch
    {
        0 => this with { V0 = value },
        1 => this with { V1 = value },
        2 => this with { V2 = value },
        3 => this with { V3 = value },
        4 => this with { V4 = value },
        _ => this with { V5 = value },
    };

    /// <summary>The value in slot <paramref name="index"/>.</summary>
    public object? Get(int index) => index switch
    {
        0 => V0,
        1 => V1,
        2 => V2,
        3 => V3,
        4 => V4,
        _ => V5,
    };
}
