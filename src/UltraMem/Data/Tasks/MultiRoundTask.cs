namespace UltraMem.Data.Tasks;

/// <summary>
/// Multi-round memorising: <paramref name="Facts"/> facts set, then <paramref name="Updates"/> updates ("now"); the question asks a
/// fact, whose answer is its latest value.
/// <code>set bazoku=3; set mesafi=7; now bazoku=5; … | get bazoku = 5</code>
/// </summary>
public sealed class MultiRoundTask(int Facts, int Updates) : SyntheticTask
{
    public override string Name => "multi_round";

    protected override TaskExample Generate(ref SplitMix64 rng)
    {
        var keys = Distinct(ref rng, Facts, PseudoWords.Count);
        var value = new int[Facts];
        for (int i = 0; i < Facts; i++)
            value[i] = (int)rng.NextBelow(100);
        var parts = keys.Select((k, i) => $"set {PseudoWords.Of(k)}={value[i]}").ToList();
        for (int u = 0; u < Updates; u++)
        {
            int i = (int)rng.NextBelow((ulong)Facts);
            value[i] = (int)rng.NextBelow(100);
            parts.Add($"now {PseudoWords.Of(keys[i])}={value[i]}");
        }
        int asked = (int)rng.NextBelow((ulong)Facts);
        return new TaskExample(Name, $"{string.Join("; ", parts)} | get {PseudoWords.Of(keys[asked])} =", $" {value[asked]}");
    }
}
