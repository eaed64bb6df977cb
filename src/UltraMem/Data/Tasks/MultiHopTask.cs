namespace UltraMem.Data.Tasks;

/// <summary>
/// Multi-hop reasoning (the UltraMemV2 paper's reported weakness): <paramref name="Links"/> links a → b in shuffled order, among
/// them one chain of <paramref name="Hops"/> links from the asked word; the answer is where the chain ends.
/// <code>links: kipa>ruso; bazoku>kipa; mesafi>tolu; … | from bazoku 2 hops > ruso</code>
/// </summary>
public sealed class MultiHopTask(int Links, int Hops) : SyntheticTask
{
    public override string Name => "multi_hop";

    protected override TaskExample Generate(ref SplitMix64 rng)
    {
        if (Hops < 1 || Links < Hops)
            throw new UltraMemException($"multi_hop needs 1 <= hops <= links (got hops {Hops}, links {Links})");
        // every word appears once as a source and at most once as a target, so each path is unique
        var words = Distinct(ref rng, 2 * Links + 1, PseudoWords.Count);
        var links = new List<(int From, int To)>();
        for (int h = 0; h < Hops; h++)
            links.Add((words[h], words[h + 1])); // the chain: words[0] > words[1] > … > words[Hops]
        for (int i = Hops; i < Links; i++)
            links.Add((words[Hops + 1 + 2 * (i - Hops)], words[Hops + 2 + 2 * (i - Hops)])); // distractors: disjoint pairs
        var order = Distinct(ref rng, Links, Links);
        string context = string.Join("; ", order.Select(i => $"{PseudoWords.Of(links[i].From)}>{PseudoWords.Of(links[i].To)}"));
        return new TaskExample(
            Name,
            $"links: {context} | from {PseudoWords.Of(words[0])} {Hops} hops >",
            $" {PseudoWords.Of(words[Hops])}"
        );
    }
}
