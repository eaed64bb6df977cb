using UltraMem.Model;

namespace UltraMem.Benchmarks;

/// <summary>
/// The physical floor of one decode step (docs/results.md §1): for each component, its FLOPs at the measured matmul rate and
/// the bytes it must read at the measured read bandwidth; a component cannot run faster than the larger of the two, and the
/// step not faster than the sum over its components (they run one after the other).
/// <list type="bullet">
/// <item><b>attention + KV</b>: per block, the q/k/v/o projections (2·4·D² FLOPs per token, 4·D² weights), the scores and
/// the weighted sum over the L_kv + 1 cached positions (4·D·(L_kv + 1) FLOPs per token) and the KV cache they read
/// (2·(L_kv + 1)·D floats per sequence); the two norms;</item>
/// <item><b>feed-forward slots</b>: every block FFN and plugged-in layer at its activated FLOPs, reading its dense weights and
/// the sparse rows (value rows, experts) the step actually touched;</item>
/// <item><b>output head</b>: logits of the new position, 2·V·D FLOPs per token over the V·D head weights (the embedding when
/// tied), and the final norm.</item>
/// </list>
/// </summary>
/// <param name="Parts">The components with their FLOPs and bytes for the whole step (all B tokens).</param>
public sealed record DecodeRoofline(IReadOnlyList<DecodeRoofline.Part> Parts)
{
    /// <summary>One component of a decode step: FLOPs and bytes read for the whole batch.</summary>
    public sealed record Part(string Component, double Flops, double Bytes)
    {
        /// <summary>FLOPs ÷ the matmul rate, ms.</summary>
        public double FlopsMs(MachineRates r) => Flops / (r.MatmulGflops * 1e9) * 1e3;

        /// <summary>Bytes ÷ the read bandwidth, ms.</summary>
        public double BytesMs(MachineRates r) => Bytes / (r.ReadGbPerS * 1e9) * 1e3;

        /// <summary>The floor of this component: the larger of the two.</summary>
        public double Ms(MachineRates r) => Math.Max(FlopsMs(r), BytesMs(r));
    }

    public const string Attention = "attention + KV",
        Slots = "feed-forward slots",
        Head = "output head";

    /// <summary>The step's floor: Σ over components of max(FLOPs floor, bytes floor), ms.</summary>
    public double Ms(MachineRates r) => Parts.Sum(p => p.Ms(r));

    /// <summary>The floor of one component, ms (0 when the step has no such component).</summary>
    public double Ms(string component, MachineRates r) => Parts.Where(p => p.Component == component).Sum(p => p.Ms(r));

    /// <summary>
    /// The roofline of the step <paramref name="model"/> just decoded for <paramref name="batch"/> sequences with
    /// <paramref name="kvLength"/> cached positions (the slots' sparse reads are those of that last forward pass).
    /// </summary>
    public static DecodeRoofline Of(TransformerLM model, int batch, int kvLength)
    {
        var c = model.Config;
        double b = batch,
            d = c.DModel,
            l = c.NLayers,
            v = c.VocabSize,
            positions = kvLength + 1;
        var attention = new Part(
            Attention,
            b * l * (2 * 4 * d * d + 4 * d * positions),
            4 * l * (4 * d * d + 2 * d) + DecodeBenchmark.KvCacheBytes(c, batch, kvLength)
        );
        double slotFlops = 0,
            slotBytes = 0;
        foreach (var slot in model.Slots())
        {
            slotFlops += b * slot.Count().FlopsPerToken;
            slotBytes += SlotBytes(slot);
        }
        var slots = new Part(Slots, slotFlops, slotBytes);
        var head = new Part(Head, b * 2 * v * d, 4 * (v * d + d) + (c.TieEmbeddings ? 0 : 4 * b * d));
        return new DecodeRoofline(new[] { attention, slots, head });
    }

    /// <summary>
    /// Bytes (float32) a slot's last forward pass had to read: its dense weights, and of each sparse table only the rows it
    /// touched (a table it reads from the model's shared memory is not among its own parameters).
    /// </summary>
    public static double SlotBytes(Layers.FeedForwardSlot slot)
    {
        long all = slot.parameters().Sum(p => p.numel());
        var reads = slot.LastSparseReads().ToList();
        long owned = reads.Where(t => !t.Table.StartsWith("shared_memory.", StringComparison.Ordinal)).Sum(t => t.TableParameters);
        return 4.0 * (all - owned + reads.Sum(t => t.ParametersRead));
    }
}
