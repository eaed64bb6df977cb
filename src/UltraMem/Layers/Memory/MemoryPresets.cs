using UltraMem.Model;

namespace UltraMem.Layers.Memory;

/// <summary>
/// The UltraMem paper's ablation ladder (spec §3, Table 2) as model configurations. Each rung adds one change to
/// the previous one, so the rungs are cumulative:
/// <code>
///  pkm                   one PKM layer parallel to the middle block's FFN: softmax, LayerNorm query, H = 4, Dv = D, table ≈ 10× the dense params
///  pkm+rm_softmax        raw top-m scores weight the values
///  pkm+half_vdim         Dv = D/2, ~2× the values (n·√2 keys per side), Linear(Dv → D) output projection
///  pkm+share_query       pairs of heads share one query
///  pkm+split             L/2 smaller memory layers in skip-layer form 0:1/2:3/…, same total values and selections
///  pkm+qk_norm           LayerNorm over Dk/2 on query halves and keys
///  pkm+ive               implicit value expansion E = 4 (virtual table 4× the physical one)
///  pkm+tdqkr             Tucker-decomposed retrieval, rank r = 2
///  pkm+mcs               multi-core scoring, h = 2 cores
///  pkm+init              UltraMem's variance-matched initialisation
///  ultramem              + value learning-rate decay κ = 4 → 1
///  ultramem+query_conv   + causal depthwise query convolution (kernel 3)
/// </code>
/// Sizes scale with the base model: n = √(10 · non-embedding params / Dv) keys per side, Dk = min(256, D/2), m = 16.
/// </summary>
public static class MemoryPresets
{
    public static readonly string[] Ladder =
    {
        "pkm", "pkm+rm_softmax", "pkm+half_vdim", "pkm+share_query", "pkm+split", "pkm+qk_norm",
        "pkm+ive", "pkm+tdqkr", "pkm+mcs", "pkm+init", "ultramem", "ultramem+query_conv",
    };

    /// <summary>Sparse (value-table) parameters as a multiple of the dense non-embedding parameters (the paper's "x10").</summary>
    public const double SparseMultiple = 10;
    public const int Heads = 4, TopM = 16;

    /// <summary>The model <paramref name="baseConfig"/> with the memory layers of ladder rung <paramref name="rung"/> (replacing any it had).</summary>
    public static ModelConfig Apply(ModelConfig baseConfig, string rung)
    {
        int step = StepOf(rung);
        int l = baseConfig.NLayers;
        int layers = step >= StepOf("pkm+split") ? Math.Max(1, l / 2) : 1;
        var memory = MemoryFor(baseConfig, step, layers);
        string kind = step >= StepOf("ultramem") ? "ultramem" : "pkm";
        var placements = new List<SlotPlacement>();
        if (layers == 1) placements.Add(new SlotPlacement { Kind = kind, ReadAt = l / 2, AddAfter = l / 2, Memory = memory });
        else
            for (int k = 0; k < layers; k++)
            {
                int a = Math.Min(2 * k, l - 1), b = Math.Min(2 * k + 1, l - 1);
                placements.Add(new SlotPlacement { Kind = kind, ReadAt = a, AddAfter = b, Memory = memory });
            }
        return (baseConfig with { MemoryLayers = placements }).Validate();
    }

    /// <summary>Memory settings when a placement names a kind without its own <c>memory</c> block: the <c>pkm</c> or <c>ultramem</c> rung as one layer holding all of the table and the selections.</summary>
    public static MemoryConfig DefaultFor(string kind, ModelConfig model) => MemoryFor(model, StepOf(kind == "ultramem" ? "ultramem" : "pkm"), layers: 1);

    static int StepOf(string rung)
    {
        int step = Array.IndexOf(Ladder, rung);
        if (step < 0) throw new UltraMemException($"unknown ladder rung '{rung}' (known: {string.Join(", ", Ladder)})");
        return step;
    }

    /// <summary>One memory layer of ladder step <paramref name="step"/> when the rung's table and selections are split over <paramref name="layers"/> layers.</summary>
    static MemoryConfig MemoryFor(ModelConfig baseConfig, int step, int layers)
    {
        bool At(string name) => step >= StepOf(name);
        int d = baseConfig.DModel;
        long dense = DenseNonEmbeddingParameters(baseConfig);
        int dv = At("pkm+half_vdim") ? d / 2 : d;
        int n = (int)Math.Round(Math.Sqrt(SparseMultiple * dense / (double)d));      // PKM's table: ≈ 10× dense params at Dv = D
        if (At("pkm+half_vdim")) n = (int)Math.Round(n * Math.Sqrt(2));              // twice the values at half the width
        return new MemoryConfig
        {
            NKeys = (int)Math.Round(n / Math.Sqrt(layers)),                           // same total rows, split over the layers
            Heads = Heads,
            TopM = Math.Max(1, (int)Math.Round(TopM / (double)layers)),               // same selections per token in total
            KeyDim = Math.Min(256, d / 2 / 2 * 2),
            ValueDim = dv,
            ValueProjection = At("pkm+half_vdim"),
            Softmax = !At("pkm+rm_softmax"),
            ShareQuery = At("pkm+share_query"),
            QueryNorm = "layernorm",
            QkNorm = At("pkm+qk_norm"),
            Expansion = At("pkm+ive") ? 4 : 1,
            Retrieval = At("pkm+tdqkr") ? "tucker" : "product_keys",
            TuckerRank = 2,
            TuckerCores = At("pkm+mcs") ? 2 : 1,
            Init = At("pkm+init") ? "paper" : "pkm",
            ValueLrMultiplier = At("ultramem") ? 4 : 1,
            QueryConv = At("ultramem+query_conv"),
        };
    }

    /// <summary>Attention + FFN parameters of the backbone (no embeddings, no memory).</summary>
    public static long DenseNonEmbeddingParameters(ModelConfig c)
    {
        long d = c.DModel;
        long ffn = c.Ffn == "swiglu" ? 3 * d * c.FfnHiddenResolved : 0;
        return c.NLayers * (4 * d * d + ffn + 2 * d) + d;
    }
}
