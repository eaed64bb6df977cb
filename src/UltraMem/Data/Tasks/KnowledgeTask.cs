namespace UltraMem.Data.Tasks;

/// <summary>
/// Knowledge capacity (in the parameters, not the context): a fixed knowledge base of <paramref name="Entities"/> × the
/// attributes below, drawn from <paramref name="KnowledgeSeed"/> alone — every example of every seed states or asks a fact of
/// the same base. Training sees the facts; evaluation asks them, so accuracy counts the facts a model has stored.
/// <code>bazoku color = blue</code>
/// </summary>
public sealed class KnowledgeTask(int Entities, ulong KnowledgeSeed) : SyntheticTask
{
    public static readonly (string Attribute, string[] Values)[] Attributes =
    {
        ("color", new[] { "red", "blue", "green", "white", "black", "brown", "grey", "gold" }),
        ("city", new[] { "paris", "tokyo", "lima", "cairo", "oslo", "delhi", "quito", "perth" }),
        ("food", new[] { "rice", "bread", "fish", "beans", "corn", "soup", "figs", "nuts" }),
        ("tool", new[] { "saw", "drill", "rake", "axe", "file", "plane", "chisel", "vise" }),
    };

    public override string Name => "knowledge";

    /// <summary>The number of facts in the base.</summary>
    public int Facts => Entities * Attributes.Length;

    /// <summary>Fact <paramref name="f"/> of the base (0 ≤ f &lt; <see cref="Facts"/>): entity word, attribute and value.</summary>
    public (string Entity, string Attribute, string Value) Fact(int f)
    {
        if (Entities > PseudoWords.Count)
            throw new UltraMemException($"knowledge holds at most {PseudoWords.Count} entities (got {Entities})");
        int entity = f / Attributes.Length,
            attribute = f % Attributes.Length;
        var rng = new SplitMix64(SplitMix64.Mix(KnowledgeSeed) + (ulong)entity);
        // entity words: offset + entity · 104729 mod 70³ — injective, as 104729 (a prime) shares no factor with 70³ = 2³·5³·7³
        int word = (int)(
            (SplitMix64.Mix(KnowledgeSeed ^ 0x5DEECE66DUL) % PseudoWords.Count + (ulong)entity * 104729UL) % PseudoWords.Count
        );
        string value = "";
        for (int a = 0; a <= attribute; a++)
            value = Attributes[a].Values[rng.NextBelow((ulong)Attributes[a].Values.Length)];
        return (PseudoWords.Of(word), Attributes[attribute].Attribute, value);
    }

    protected override TaskExample Generate(ref SplitMix64 rng)
    {
        var (entity, attribute, value) = Fact((int)rng.NextBelow((ulong)Facts));
        return new TaskExample(Name, $"{entity} {attribute} =", $" {value}");
    }
}
