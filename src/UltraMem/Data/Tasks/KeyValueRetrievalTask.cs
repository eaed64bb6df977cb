namespace UltraMem.Data.Tasks;

/// <summary>
/// KV retrieval (associative recall; the UltraMemV2 paper's long-context memorising claim): <paramref name="Pairs"/> key → value
/// pairs in the context, then one key is asked.
/// <code>kv: bazoku=417; mesafi=82; … | get mesafi = 82</code>
/// </summary>
public sealed class KeyValueRetrievalTask(int Pairs) : SyntheticTask
{
    public override string Name => "kv_retrieval";

    protected override TaskExample Generate(ref SplitMix64 rng)
    {
        var keys = Distinct(ref rng, Pairs, PseudoWords.Count);
        var values = new int[Pairs];
        for (int i = 0; i < Pairs; i++)
            values[i] = (int)rng.NextBelow(1000);
        int asked = (int)rng.NextBelow((ulong)Pairs);
        string context = string.Join("; ", keys.Select((k, i) => $"{PseudoWords.Of(k)}={values[i]}"));
        return new TaskExample(Name, $"kv: {context} | get {PseudoWords.Of(keys[asked])} =", $" {values[asked]}");
    }
}
