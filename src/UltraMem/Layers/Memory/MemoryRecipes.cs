namespace UltraMem.Layers.Memory;

/// <summary>
/// One memory layer's settings from the facts of the model it goes into (<see cref="SlotContext"/>): the rungs of UltraMem's
/// ablation ladder (arXiv:2411.12364, Table 2), UltraMemV2's layer sized to a compute share (arXiv:2508.18756) and
/// Memory+'s layer (arXiv:2412.09764). The kinds' defaults come from here; where the layers go in a model (placements,
/// shared tables, the model's init) is the architectures' business (<c>UltraMem.Architectures.MemoryPresets</c>).
/// </summary>
public static class MemoryRecipes
{
    /// <summary>
    /// The rungs of the ablation ladder, cumulative: each adds one change to the previous one.
    /// <code>
    ///  pkm                   one PKM layer: softmax, LayerNorm query, H = 4, Dv = D, table ≈ 10× the dense params
    ///  pkm+rm_softmax        raw top-m scores weight the values
    ///  pkm+half_vdim         Dv = D/2, ~2× the values (n·√2 keys per side), Linear(Dv → D) output projection
    ///  pkm+share_query       pairs of heads share one query
    ///  pkm+split             L/2 smaller memory layers in skip-layer form, same total values and selections
    ///  pkm+qk_norm           LayerNorm over Dk/2 on query halves and keys
    ///  pkm+ive               implicit value expansion E = 4 (virtual table 4× the physical one)
    ///  pkm+tdqkr             Tucker-decomposed retrieval, rank r = 2
    ///  pkm+mcs               multi-core scoring, h = 2 cores
    ///  pkm+init              UltraMem's initialisation, values matched to the FFN output variance (init: paper_matched)
    ///  ultramem              + value learning-rate decay κ = 4 → 1
    ///  ultramem+query_conv   + causal depthwise query convolution (kernel 3)
    /// </code>
    /// </summary>
    public static readonly string[] Ladder =
    {
        "pkm",
        "pkm+rm_softmax",
        "pkm+half_vdim",
        "pkm+share_query",
        "pkm+split",
        "pkm+qk_norm",
        "pkm+ive",
        "pkm+tdqkr",
        "pkm+mcs",
        "pkm+init",
        "ultramem",
        "ultramem+query_conv",
    };

    /// <summary>Sparse (value-table) parameters as a multiple of the dense non-embedding parameters (the paper's "x10").</summary>
    public const double SparseMultiple = 10;

    /// <summary>The ladder's retrieval heads and selections per head: H·m = 64 value rows per token.</summary>
    public const int Heads = 4,
        TopM = 16;

    /// <summary>Share of the activated FLOPs per token given to the memory layers by UltraMemV2 (the paper's best, ≈ 17%).</summary>
    public const double V2ComputeShare = 0.17;

    /// <summary>Cap on TDQKR's coarse row/column top-m in UltraMemV2.</summary>
    public const int V2CoarseCap = 128;

    /// <summary>The position of <paramref name="rung"/> on the ladder; an unknown name is an error listing the rungs.</summary>
    public static int StepOf(string rung)
    {
        int step = Array.IndexOf(Ladder, rung);
        if (step < 0)
            throw new UltraMemException($"unknown ladder rung '{rung}' (known: {string.Join(", ", Ladder)})");
        return step;
    }

    /// <summary>
    /// One memory layer of ladder step <paramref name="step"/> when the rung's table and selections are split over
    /// <paramref name="layers"/> layers. Sizes scale with the model: n = √(10 · dense params / Dv) keys per side,
    /// Dk = min(256, D/2), H = 4, m = 16.
    /// </summary>
    public static MemoryConfig LadderLayer(SlotContext model, int step, int layers)
    {
        bool At(string name) => step >= StepOf(name);
        int d = model.DModel;
        long dense = model.DenseParameters;
        int dv = At("pkm+half_vdim") ? d / 2 : d;
        int n = (int)Math.Round(Math.Sqrt(SparseMultiple * dense / (double)d)); // PKM's table: ≈ 10× dense params at Dv = D
        if (At("pkm+half_vdim"))
            n = (int)Math.Round(n * Math.Sqrt(2)); // twice the values at half the width
        return new MemoryConfig
        {
            NKeys = (int)Math.Round(n / Math.Sqrt(layers)), // same total rows, split over the layers
            Heads = Heads,
            TopM = Math.Max(1, (int)Math.Round(TopM / (double)layers)), // same selections per token in total
            KeyDim = Math.Min(256, d / 2 / 2 * 2),
            ValueDim = dv,
            ValueProjection = At("pkm+half_vdim"),
            Softmax = !At("pkm+rm_softmax"),
            ShareQuery = At("pkm+share_query"),
            QueryNorm = QueryNorm.LayerNorm,
            QkNorm = At("pkm+qk_norm"),
            Expansion = At("pkm+ive") ? 4 : 1,
            Retrieval = At("pkm+tdqkr") ? Retrieval.Tucker : Retrieval.ProductKeys,
            TuckerRank = 2,
            TuckerCores = At("pkm+mcs") ? 2 : 1,
            Init = At("pkm+init") ? InitScheme.PaperMatched : InitScheme.Pkm,
            ValueLrMultiplier = At("ultramem") ? 4 : 1,
            QueryConv = At("ultramem+query_conv"),
        };
    }

    /// <summary>
    /// UltraMemV2's layer for a model with one such layer parallel to every block's FFN: 1 head, the ladder's H·m = 64
    /// selections per token spread over the L layers; TDQKR r = 2 with a query per rank and h = 2 cores; E = 4 (k_e = 2 key
    /// sets per side, paired into 4 blocks) summed into a single projector; pre-values Dp = Dv/3 without activation; raw
    /// scores; qk-norm; the V2 init; value lr κ = 4 → 1. Widths Dk = Dv = 3·Dp come from <see cref="SizeForComputeShare"/>
    /// (<paramref name="computeShare"/> of the model's FLOPs); n so that the L tables hold ≈ 10× the dense parameters.
    /// </summary>
    public static MemoryConfig UltraMemV2Layer(SlotContext model, double computeShare = V2ComputeShare)
    {
        int l = model.NLayers;
        int m = Math.Max(1, (int)Math.Round(Heads * TopM / (double)l));
        MemoryConfig At(int width, int n) => V2Layer(width, n, m);
        // The key cost grows with n and n with the value width, so alternate: width for the share at this n, n for the table.
        int n = 64,
            width = 6;
        for (int k = 0; k < 4; k++)
        {
            width = SizeForComputeShare(model.DModel, w => At(w, n), l, model.BackboneFlops, computeShare);
            var probe = At(width, n);
            double rows =
                SparseMultiple * model.DenseParameters / (l * (double)(probe.ValueDimResolved(model.DModel) + probe.PreValueDimResolved));
            n = Math.Max(MinKeys(probe), (int)Math.Round(Math.Sqrt(rows)));
        }
        width = SizeForComputeShare(model.DModel, w => At(w, n), l, model.BackboneFlops, computeShare);
        return At(width, n);
    }

    static MemoryConfig V2Layer(int width, int n, int m) =>
        new()
        {
            NKeys = n,
            Heads = 1,
            TopM = m,
            KeyDim = width,
            ValueDim = width,
            PreValueDim = Math.Max(1, width / 3),
            ValueProjection = true,
            Softmax = false,
            QueryNorm = QueryNorm.None,
            QkNorm = true,
            Retrieval = Retrieval.Tucker,
            TuckerRank = 2,
            TuckerCores = 2,
            QueryPerRank = true,
            CoarseTop = Math.Min(V2CoarseCap, m),
            Expansion = 4,
            SingleProjector = true,
            Init = InitScheme.V2,
            ValueLrMultiplier = 4,
        };

    /// <summary>
    /// Memory+'s layer for a model with one such layer parallel to the FFN of every other block (L/2 layers), all reading one
    /// shared table of n² rows: qk-norm, softmax scores, Dv = D/2 with a SiLU output gate, value lr fixed at 1e-3, H = 2
    /// heads, the ladder's 64 selections per token in total; the table ≈ 10× the dense parameters.
    /// </summary>
    public static MemoryConfig MemoryPlusLayer(SlotContext model)
    {
        int l = model.NLayers,
            d = model.DModel,
            layers = Math.Max(1, l / 2),
            heads = 2;
        int dv = d / 2;
        int n = (int)Math.Round(Math.Sqrt(SparseMultiple * model.DenseParameters / (double)dv));
        return new MemoryConfig
        {
            NKeys = n,
            Heads = heads,
            TopM = Math.Max(1, (int)Math.Round(Heads * TopM / (double)(heads * layers))),
            KeyDim = Math.Min(256, d / 2 / 2 * 2),
            ValueDim = dv,
            ValueProjection = true,
            OutputGate = true,
            Softmax = true,
            // Meta's released memory layer (facebookresearch/memory, lingua/product_key/memory.py) normalises neither the query
            // nor the keys and scales no score: plain dot products with PKM's init start near a uniform softmax over the top-m.
            // (A gain-1 qk-norm here made the raw scores ~√Dk and the softmax close to argmax: docs/results.md, "Memory+".)
            QueryNorm = QueryNorm.None,
            QkNorm = false,
            Init = InitScheme.Pkm,
            ValueLr = 1e-3,
            SharedValues = true,
        };
    }

    /// <summary>Smallest n_keys a layer like <paramref name="c"/> accepts (its top-m must fit the grid).</summary>
    public static int MinKeys(MemoryConfig c) => SmallestValid(n => (c with { NKeys = n }).Validate(int.MaxValue / 4));

    /// <summary>The smallest n ≥ <paramref name="from"/> for which <paramref name="validate"/> does not throw <see
    /// cref="UltraMemException"/>.</summary>
    public static int SmallestValid(Action<int> validate, int from = 2)
    {
        for (int n = from; ; n++)
        {
            try
            {
                validate(n);
                return n;
            }
            catch (UltraMemException) { }
        }
    }

    /// <summary>
    /// Memory compute proportion (UltraMemV2, arXiv:2508.18756): the width w — Dk = Dv = w, Dp = w/3 (Dv : Dp = 3 : 1), w a multiple
    /// of 6 — whose <paramref name="layers"/> memory layers take the share of activated FLOPs per token closest to
    /// <paramref name="share"/> of <paramref name="modelFlops"/> (the FLOPs of the model without them).
    /// </summary>
    public static int SizeForComputeShare(int dModel, Func<int, MemoryConfig> layerOfWidth, int layers, long modelFlops, double share)
    {
        if (!(share > 0 && share < 1))
            throw new UltraMemException($"memory compute share must be in (0, 1) (got {share})");
        int best = 6;
        double bestErr = double.MaxValue;
        for (int w = 6; w <= 4 * dModel; w += 6)
        {
            double mem = layers * (double)MemoryAccounting.Count(layerOfWidth(w), dModel).FlopsPerToken;
            double err = Math.Abs(mem / (modelFlops + mem) - share);
            if (err < bestErr)
            {
                best = w;
                bestErr = err;
            }
        }
        return best;
    }
}
