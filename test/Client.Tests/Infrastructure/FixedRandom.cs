namespace Gateway.Client.Tests.Infrastructure;

/// <summary>A random source that always draws <paramref name="value"/> (in [0, 1)): reconnect delays become exact.</summary>
public sealed class FixedRandom(double value) : Random
{
    public override double NextDouble() => value;

    protected override double Sample() => value;
}
