using UltraMem.Layers;

namespace UltraMem.Model;

/// <summary>
/// Parameter and compute accounting of a whole model from its config alone — no tensor is allocated, so a
/// billion-parameter config can be sized and compared in milliseconds (<c>ultramem info</c>, <c>FamilyMatcher</c>).
/// A test checks the totals against the parameters of the built model.
/// </summary>
public static class ModelAccounting
{
    /// <summary>Total and activated (per-token) parameters and forward FLOPs per token of each component.</summary>
    public static IReadOnlyList<(string Component, ParameterCount Count)> Report(ModelConfig config)
    {
        var c = config.Resolve();
        var context = c.MemoryLayers.Count > 0 ? c.ForSlots() : null;
        long d = c.DModel,
            v = c.VocabSize;
        var replaced = c.MemoryLayers.Where(p => p.ReplaceFfn).Select(p => p.ReadAt).ToHashSet();
        var rows = new List<(string, ParameterCount)>
        {
            // a token reads one embedding row; when tied, the head reads the whole matrix anyway (counted there)
            ("embed_tokens", new ParameterCount(v * d, c.TieEmbeddings ? 0 : d, 0)),
        };
        var ffn = SwiGLU.Accounting(c.DModel, c.FfnHiddenResolved);
        for (int i = 0; i < c.NLayers; i++)
        {
            rows.Add(($"layers.{i}.norms", new ParameterCount(2 * d, 2 * d, 0)));
            rows.Add(($"layers.{i}.self_attn", ParameterCount.Dense(d, 4 * d)));
            if (c.Ffn == FfnKind.SwiGlu && !replaced.Contains(i))
                rows.Add(($"layers.{i}.mlp", ffn));
        }
        for (int j = 0; j < c.MemoryLayers.Count; j++)
        {
            var p = c.MemoryLayers[j];
            rows.Add(($"memory_layers.{j} ({p.Kind}, {p.Where})", SlotKinds.Get(p.Kind).Count(p.Settings!, context!)));
        }
        if (c.SharedValueRows is { } g && c.MemoryLayers.FirstOrDefault(p => p.Memory?.SharedValues == true)?.Memory is { } m)
            // read through the layers (their activated counts include the rows they select)
            rows.Add(
                (
                    $"shared_memory ({g:N0} rows)",
                    new ParameterCount(Layers.Memory.MemoryAccounting.SharedTableParameters(m, c.DModel, g), 0, 0)
                )
            );
        rows.Add(("norm", new ParameterCount(d, d, 0)));
        // The output head reads all V×D weights per token; when tied they are the embedding's, counted once in total.
        rows.Add((c.TieEmbeddings ? "lm_head (tied)" : "lm_head", new ParameterCount(c.TieEmbeddings ? 0 : v * d, v * d, 2 * v * d)));
        // Attention over the context: QKᵀ and AV cost 2·2·D per cached position per layer (no parameters).
        long ctx = c.MaxSeqLen / 2;
        rows.Add(($"attention scores (avg ctx {ctx})", new ParameterCount(0, 0, 4 * d * ctx * c.NLayers)));
        return rows;
    }

    /// <summary>The sum of <see cref="Report"/>.</summary>
    public static ParameterCount Total(ModelConfig config) => Report(config).Aggregate(new ParameterCount(), (a, x) => a + x.Count);

    /// <summary>Attention + FFN parameters of the backbone (no embeddings, no plugged-in layers).</summary>
    public static long DenseNonEmbeddingParameters(ModelConfig c)
    {
        long d = c.DModel;
        long ffn = c.Ffn == FfnKind.SwiGlu ? 3 * d * c.FfnHiddenResolved : 0;
        return c.NLayers * (4 * d * d + ffn + 2 * d) + d;
    }

    /// <summary>Parameters of the token embedding and the output head (once when tied).</summary>
    public static long EmbeddingParameters(ModelConfig config) => (long)config.VocabSize * config.DModel * (config.TieEmbeddings ? 1 : 2);
}
