namespace UltraMem.Data.Tasks;

/// <summary>
/// Finding a needle: one fact hidden among <paramref name="FillerSentences"/> sentences of filler text (e.g. the Brown corpus),
/// at relative position <paramref name="Depth"/> (0 = first, 1 = last; null: a random position per example), asked at the end.
/// <code>… filler … The code of bazoku is 4821. … filler … | code of bazoku = 4821</code>
/// </summary>
public sealed class NeedleTask(IReadOnlyList<string> Filler, int FillerSentences, double? Depth = null) : SyntheticTask
{
    public override string Name => "needle";

    protected override TaskExample Generate(ref SplitMix64 rng)
    {
        if (Filler.Count == 0)
            throw new UltraMemException("needle needs filler sentences");
        int name = (int)rng.NextBelow(PseudoWords.Count),
            code = 1000 + (int)rng.NextBelow(9000);
        int start = (int)rng.NextBelow((ulong)Filler.Count);
        var sentences = Enumerable.Range(0, FillerSentences).Select(i => Filler[(start + i) % Filler.Count]).ToList();
        int at = Depth is { } d ? (int)Math.Round(Math.Clamp(d, 0, 1) * FillerSentences) : (int)rng.NextBelow((ulong)FillerSentences + 1);
        sentences.Insert(at, $"The code of {PseudoWords.Of(name)} is {code}.");
        return new TaskExample(Name, $"{string.Join(" ", sentences)} | code of {PseudoWords.Of(name)} =", $" {code}");
    }
}
