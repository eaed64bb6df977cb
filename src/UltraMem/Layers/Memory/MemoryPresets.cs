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
///  pkm+init              UltraMem's initialisation, values matched to the FFN output variance (init: paper_matched)
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

    /// <summary>
    /// Memory settings when a placement names a kind without its own <c>memory</c> block: the <c>pkm</c> or <c>ultramem</c>
    /// rung as one layer holding all of the table and the selections; an <c>ultramemv2</c> layer as in <see cref="UltraMemV2"/>;
    /// a <c>memory_plus</c> layer as in <see cref="MemoryPlus"/> but owning its table (a shared one needs the model's shared_value_rows).
    /// </summary>
    public static MemoryConfig DefaultFor(string kind, ModelConfig model) => kind switch
    {
        "ultramemv2" => UltraMemV2(model with { MemoryLayers = new(), SharedValueRows = null }).MemoryLayers[0].Memory!,
        "memory_plus" => MemoryPlus(model with { MemoryLayers = new(), SharedValueRows = null }).MemoryLayers[0].Memory! with { SharedValues = false },
        _ => MemoryFor(model, StepOf(kind == "ultramem" ? "ultramem" : "pkm"), layers: 1),
    };

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
            Init = At("pkm+init") ? "paper_matched" : "pkm",
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

    // ── UltraMemV2 and Memory+ (spec §4–5) ───────────────────────────────────────────────────────────

    /// <summary>Share of the activated FLOPs per token given to the memory layers by <see cref="UltraMemV2"/> (the paper's best, ≈ 17%).</summary>
    public const double V2ComputeShare = 0.17;
    /// <summary>Cap on TDQKR's coarse row/column top-m in UltraMemV2.</summary>
    public const int V2CoarseCap = 128;

    /// <summary>
    /// UltraMemV2 (spec §4): a memory layer parallel to the FFN of every block, 1 head, the ladder's H·m = 64 selections per
    /// token spread over the L layers; TDQKR r = 2 with a query per rank and h = 2 cores; E = 4 (k_e = 2 key sets per side,
    /// paired into 4 blocks) summed into a single projector; pre-values Dp = Dv/3 without activation; raw scores; qk-norm;
    /// the V2 init (model linears N(0, √(2/(5D)))); value lr κ = 4 → 1. Widths Dk = Dv = 3·Dp come from
    /// <see cref="SizeForComputeShare"/> (default 17% of the dense model's FLOPs); the table starts at ≈ 10× the dense
    /// parameters in total. <paramref name="ringShareRatio"/>: one ring-shared table instead of a table per layer.
    /// </summary>
    public static ModelConfig UltraMemV2(ModelConfig baseConfig, double computeShare = V2ComputeShare, double? ringShareRatio = null)
    {
        int l = baseConfig.NLayers;
        int m = Math.Max(1, (int)Math.Round(Heads * TopM / (double)l));
        var baseFlops = Model.ModelAccounting.Total(baseConfig with { MemoryLayers = new() }).FlopsPerToken;
        MemoryConfig At(int width, int n) => V2Layer(width, n, m);
        // The key cost grows with n and n with the value width, so alternate: width for the share at this n, n for the table.
        int n = 64, width = 6;
        for (int k = 0; k < 4; k++)
        {
            width = SizeForComputeShare(baseConfig.DModel, w => At(w, n), l, baseFlops, computeShare);
            var probe = At(width, n);
            double rows = SparseMultiple * DenseNonEmbeddingParameters(baseConfig) / (l * (double)(probe.ValueDimResolved(baseConfig.DModel) + probe.PreValueDimResolved));
            n = Math.Max(MinKeys(probe), (int)Math.Round(Math.Sqrt(rows)));
        }
        width = SizeForComputeShare(baseConfig.DModel, w => At(w, n), l, baseFlops, computeShare);
        var layer = At(width, n);
        var config = baseConfig with
        {
            InitStd = Math.Sqrt(2.0 / (5 * baseConfig.DModel)),
            MemoryLayers = Enumerable.Range(0, l).Select(i => new SlotPlacement { Kind = "ultramemv2", ReadAt = i, AddAfter = i, Memory = layer }).ToList(),
        };
        return (ringShareRatio is { } r ? RingShared(config, r) : config).Validate();
    }

    static MemoryConfig V2Layer(int width, int n, int m) => new()
    {
        NKeys = n, Heads = 1, TopM = m, KeyDim = width, ValueDim = width, PreValueDim = Math.Max(1, width / 3),
        ValueProjection = true, Softmax = false, QueryNorm = "none", QkNorm = true,
        Retrieval = "tucker", TuckerRank = 2, TuckerCores = 2, QueryPerRank = true, CoarseTop = Math.Min(V2CoarseCap, m),
        Expansion = 4, SingleProjector = true, Init = "v2", ValueLrMultiplier = 4,
    };

    /// <summary>Smallest n_keys a layer like <paramref name="c"/> accepts (its top-m must fit the grid).</summary>
    public static int MinKeys(MemoryConfig c) => SmallestValid(n => (c with { NKeys = n }).Validate(int.MaxValue / 4));

    /// <summary>The smallest n ≥ <paramref name="from"/> for which <paramref name="validate"/> does not throw <see cref="UltraMemException"/>.</summary>
    public static int SmallestValid(Action<int> validate, int from = 2)
    {
        for (int n = from; ; n++)
        {
            try { validate(n); return n; }
            catch (UltraMemException) { }
        }
    }

    /// <summary>
    /// Memory compute proportion (spec §4.5): the width w — Dk = Dv = w, Dp = w/3 (Dv : Dp = 3 : 1), w a multiple of 6 —
    /// whose <paramref name="layers"/> memory layers take the share of activated FLOPs per token closest to
    /// <paramref name="share"/> of <paramref name="modelFlops"/> (the FLOPs of the model without them).
    /// </summary>
    public static int SizeForComputeShare(int dModel, Func<int, MemoryConfig> layerOfWidth, int layers, long modelFlops, double share)
    {
        if (!(share > 0 && share < 1)) throw new UltraMemException($"memory compute share must be in (0, 1) (got {share})");
        int best = 6; double bestErr = double.MaxValue;
        for (int w = 6; w <= 4 * dModel; w += 6)
        {
            double mem = layers * (double)MemoryLayer.Accounting(layerOfWidth(w), dModel).FlopsPerToken;
            double err = Math.Abs(mem / (modelFlops + mem) - share);
            if (err < bestErr) { best = w; bestErr = err; }
        }
        return best;
    }

    /// <summary>
    /// Ring-shared table (UltraMemV2, spec §4): the memory layers' tables become one global table of G = n²·L_m rows;
    /// layer ℓ reads the n_w² rows starting at ℓ·n² (wrapping), n_w = ⌊√(share_ratio · G)⌋. share_ratio = 1/L_m reads the
    /// same rows as separate tables; larger ratios let neighbouring layers overlap.
    /// </summary>
    public static ModelConfig RingShared(ModelConfig config, double shareRatio)
    {
        var mems = config.MemoryLayers.Where(p => p.Memory is not null).ToList();
        if (mems.Count == 0) throw new UltraMemException("ring sharing needs memory layers with a memory block");
        int lm = mems.Count;
        if (!(shareRatio >= 1.0 / lm - 1e-12 && shareRatio <= 1)) throw new UltraMemException($"ring share_ratio must be in [1/L_m, 1] = [{1.0 / lm:G3}, 1] (got {shareRatio})");
        int n = mems[0].Memory!.NKeys;
        if (mems.Any(p => p.Memory!.NKeys != n)) throw new UltraMemException("ring sharing needs every memory layer to have the same n_keys");
        long g = (long)n * n * lm;
        int nw = (int)Math.Floor(Math.Sqrt(shareRatio * g) + 1e-9);
        int k = 0;
        var placements = config.MemoryLayers.Select(p => p.Memory is null ? p : p with
        {
            Memory = p.Memory with { NKeys = nw, SharedValues = true, SharedOffset = (long)n * n * k++ },
        }).ToList();
        return config with { MemoryLayers = placements, SharedValueRows = g };
    }

    /// <summary>
    /// Memory+ (Berges et al., "Memory Layers at Scale"; spec §5): PKM layers parallel to the FFN of every other block
    /// (L/2 layers), all reading one shared value table, qk-norm, softmax scores, Dv = D/2 with a SiLU output gate
    /// o = W_out(m(x) ⊙ SiLU(W_s x)), value lr fixed at 1e-3, H = 2 heads, the ladder's 64 selections per token in total.
    /// The table starts at ≈ 10× the dense parameters.
    /// </summary>
    public static ModelConfig MemoryPlus(ModelConfig baseConfig)
    {
        int l = baseConfig.NLayers, d = baseConfig.DModel, layers = Math.Max(1, l / 2), heads = 2;
        int dv = d / 2;
        int n = (int)Math.Round(Math.Sqrt(SparseMultiple * DenseNonEmbeddingParameters(baseConfig) / (double)dv));
        var layer = new MemoryConfig
        {
            NKeys = n, Heads = heads, TopM = Math.Max(1, (int)Math.Round(Heads * TopM / (double)(heads * layers))),
            KeyDim = Math.Min(256, d / 2 / 2 * 2), ValueDim = dv, ValueProjection = true, OutputGate = true,
            Softmax = true, QueryNorm = "none", QkNorm = true, Init = "pkm", ValueLr = 1e-3, SharedValues = true,
        };
        var placements = Enumerable.Range(0, layers).Select(k => Math.Min(l - 1, 2 * k + 1))
            .Select(i => new SlotPlacement { Kind = "memory_plus", ReadAt = i, AddAfter = i, Memory = layer }).ToList();
        return (baseConfig with { MemoryLayers = placements, SharedValueRows = (long)n * n }).Validate();
    }
}
