namespace Gateway.Protocol.Frames;

/// <summary>Message priority. Lower value = more urgent. Wire values are fixed by protocol v1.</summary>
public enum Priority : byte
{
    /// <summary>Never shed; dispatched first.</summary>
    Critical = 0,
    /// <summary>Never shed.</summary>
    High = 1,
    /// <summary>Shed after <see cref="Low"/> on a slow connection.</summary>
    Normal = 2,
    /// <summary>Shed first on a slow connection.</summary>
    Low = 3,
}
