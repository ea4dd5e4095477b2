namespace Gateway.Hosting;

/// <summary>What <see cref="SweepTable{T}.Sweep{TVisitor}"/> does with each item (a struct: no delegate, no allocation).</summary>
/// <typeparam name="T">The item type.</typeparam>
public interface ISweepVisitor<in T>
{
    /// <summary>Visits one item.</summary>
    void Visit(T item);
}
