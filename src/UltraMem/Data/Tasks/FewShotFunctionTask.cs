namespace UltraMem.Data.Tasks;

/// <summary>
/// In-context learning: a function y = (a·x + b) mod 10 whose a (odd, not 5) and b are drawn per example and shown only by
/// <paramref name="Shots"/> worked pairs; the question applies it to a new x.
/// <code>f: 3>1; 7>9; 12>5; … | 8></code>
/// </summary>
public sealed class FewShotFunctionTask(int Shots) : SyntheticTask
{
    public override string Name => "in_context";

    static readonly int[] Slopes = { 1, 3, 7, 9 };

    protected override TaskExample Generate(ref SplitMix64 rng)
    {
        int a = Slopes[rng.NextBelow((ulong)Slopes.Length)],
            b = (int)rng.NextBelow(10);
        int F(int x) => (a * x + b) % 10;
        // shots drawn again until they pin the function down (one (a, b) of the 40 fits them), so the answer is learnable
        int[] xs;
        do xs = Distinct(ref rng, Shots + 1, 100);
        while (Shots < 2 || Consistent(xs.Take(Shots).Select(x => (x, F(x)))).Count() != 1);
        string shots = string.Join("; ", xs.Take(Shots).Select(x => $"{x}>{F(x)}"));
        return new TaskExample(Name, $"f: {shots} | {xs[Shots]}>", $" {F(xs[Shots])}");
    }

    /// <summary>The (a, b) of the family that fit every (x, y) pair.</summary>
    public static IEnumerable<(int A, int B)> Consistent(IEnumerable<(int X, int Y)> pairs)
    {
        var list = pairs.ToList();
        foreach (int a in Slopes)
            for (int b = 0; b < 10; b++)
                if (list.All(p => (a * p.X + b) % 10 == p.Y))
                    yield return (a, b);
    }
}
