namespace UltraMem.Data.Tasks;

/// <summary>
/// A seeded generator of task examples (docs/tasks.md). Example <c>i</c> of seed <c>s</c> is a pure function of (s, i), so
/// training and held-out sets are reproducible and disjoint by index; every answer is correct by construction.
/// </summary>
public abstract class SyntheticTask
{
    /// <summary>The task's name in configs and reports (snake_case).</summary>
    public abstract string Name { get; }

    /// <summary>Example <paramref name="index"/> of the stream of <paramref name="seed"/>.</summary>
    public TaskExample Example(ulong seed, long index)
    {
        var rng = new SplitMix64(SplitMix64.Mix(SplitMix64.Mix(seed ^ StableHash.Fnv1a64(Name)) + (ulong)index));
        return Generate(ref rng);
    }

    /// <summary>Draws one example from <paramref name="rng"/>.</summary>
    protected abstract TaskExample Generate(ref SplitMix64 rng);

    /// <summary><paramref name="count"/> distinct items of [0, <paramref name="bound"/>) in random order.</summary>
    protected static int[] Distinct(ref SplitMix64 rng, int count, int bound)
    {
        if (count > bound)
            throw new UltraMemException($"cannot draw {count} distinct items out of {bound}");
        var chosen = new HashSet<int>();
        var order = new List<int>(count);
        while (order.Count < count)
        {
            int v = (int)rng.NextBelow((ulong)bound);
            if (chosen.Add(v))
                order.Add(v);
        }
        return order.ToArray();
    }
}
