using UltraMem.Layers.Memory;
using UltraMem.Model;

namespace UltraMem.Architectures;

/// <summary>
/// Where the memory layers go in a model: the rungs of UltraMem's ablation ladder (arXiv:2411.12364, Table 2), UltraMemV2
/// (arXiv:2508.18756) with or without its ring-shared table, and Memory+ (arXiv:2412.09764), each applied to a backbone
/// config. One layer's settings come from <see cref="MemoryRecipes"/>; this class places the layers, shares tables and sets
/// the model-wide knobs the recipes need (UltraMemV2's init std). See docs/memory-layers.md.
/// </summary>
public static class MemoryPresets
{
    /// <summary>The ladder's rungs, in order (<see cref="MemoryRecipes.Ladder"/>).</summary>
    public static IReadOnlyList<string> Ladder => MemoryRecipes.Ladder;

    /// <summary>
    /// The model <paramref name="baseConfig"/> with the memory layers of ladder rung <paramref name="rung"/> (replacing any it
    /// had): one layer parallel to the middle block's FFN, or from <c>pkm+split</c> on L/2 layers in skip-layer form
    /// 0:1, 2:3, … sharing the rung's table size and selections.
    /// </summary>
    public static ModelConfig Apply(ModelConfig baseConfig, string rung)
    {
        int step = MemoryRecipes.StepOf(rung);
        int l = baseConfig.NLayers;
        int layers = step >= MemoryRecipes.StepOf("pkm+split") ? Math.Max(1, l / 2) : 1;
        var memory = MemoryRecipes.LadderLayer(baseConfig.ForSlots(), step, layers);
        string kind = step >= MemoryRecipes.StepOf("ultramem") ? "ultramem" : "pkm";
        var placements = new List<SlotPlacement>();
        if (layers == 1)
            placements.Add(
                new SlotPlacement
                {
                    Kind = kind,
                    ReadAt = l / 2,
                    AddAfter = l / 2,
                    Memory = memory,
                }
            );
        else
            for (int k = 0; k < layers; k++)
            {
                int a = Math.Min(2 * k, l - 1),
                    b = Math.Min(2 * k + 1, l - 1);
                placements.Add(
                    new SlotPlacement
                    {
                        Kind = kind,
                        ReadAt = a,
                        AddAfter = b,
                        Memory = memory,
                    }
                );
            }
        return (baseConfig with { MemoryLayers = placements }).Validate();
    }

    /// <summary>Attention + FFN parameters of the backbone (no embeddings, no memory).</summary>
    public static long DenseNonEmbeddingParameters(ModelConfig c) => ModelAccounting.DenseNonEmbeddingParameters(c);

    /// <summary>
    /// UltraMemV2: a memory layer (<see cref="MemoryRecipes.UltraMemV2Layer"/>) parallel to the FFN of every block, the
    /// model's linears initialised N(0, √(2/(5D))). <paramref name="ringShareRatio"/>: one ring-shared table instead of a
    /// table per layer (<see cref="RingShared"/>).
    /// </summary>
    public static ModelConfig UltraMemV2(
        ModelConfig baseConfig,
        double computeShare = MemoryRecipes.V2ComputeShare,
        double? ringShareRatio = null
    )
    {
        var layer = MemoryRecipes.UltraMemV2Layer((baseConfig with { MemoryLayers = new() }).ForSlots(), computeShare);
        var config = baseConfig with
        {
            InitStd = Math.Sqrt(2.0 / (5 * baseConfig.DModel)),
            MemoryLayers = Enumerable
                .Range(0, baseConfig.NLayers)
                .Select(i => new SlotPlacement
                {
                    Kind = "ultramemv2",
                    ReadAt = i,
                    AddAfter = i,
                    Memory = layer,
                })
                .ToList(),
        };
        return (ringShareRatio is { } r ? RingShared(config, r) : config).Validate();
    }

    /// <summary>
    /// Ring-shared table (UltraMemV2): the memory layers' tables become one global table of G = n²·L_m rows; layer ℓ reads
    /// the n_w² rows starting at ℓ·n² (wrapping), n_w = ⌊√(share_ratio · G)⌋. share_ratio = 1/L_m reads the same rows as
    /// separate tables; larger ratios let neighbouring layers overlap.
    /// </summary>
    public static ModelConfig RingShared(ModelConfig config, double shareRatio)
    {
        var mems = config.MemoryLayers.Where(p => p.Memory is not null).ToList();
        if (mems.Count == 0)
            throw new UltraMemException("ring sharing needs memory layers with a memory block");
        int lm = mems.Count;
        if (!(shareRatio >= 1.0 / lm - 1e-12 && shareRatio <= 1))
            throw new UltraMemException($"ring share_ratio must be in [1/L_m, 1] = [{1.0 / lm:G3}, 1] (got {shareRatio})");
        int n = mems[0].Memory!.NKeys;
        if (mems.Any(p => p.Memory!.NKeys != n))
            throw new UltraMemException("ring sharing needs every memory layer to have the same n_keys");
        long g = (long)n * n * lm;
        int nw = (int)Math.Floor(Math.Sqrt(shareRatio * g) + 1e-9);
        int k = 0;
        var placements = config
            .MemoryLayers.Select(p =>
                p.Memory is null
                    ? p
                    : p with
                    {
                        Memory = p.Memory with { NKeys = nw, SharedValues = true, SharedOffset = (long)n * n * k++ },
                    }
            )
            .ToList();
        return config with { MemoryLayers = placements, SharedValueRows = g };
    }

    /// <summary>
    /// Memory+ ("Memory Layers at Scale"): a layer (<see cref="MemoryRecipes.MemoryPlusLayer"/>) parallel to the FFN of
    /// every other block (L/2 layers), all reading one shared value table of n² rows.
    /// </summary>
    public static ModelConfig MemoryPlus(ModelConfig baseConfig)
    {
        int l = baseConfig.NLayers,
            layers = Math.Max(1, l / 2);
        var layer = MemoryRecipes.MemoryPlusLayer(baseConfig.ForSlots());
        var placements = Enumerable
            .Range(0, layers)
            .Select(k => Math.Min(l - 1, 2 * k + 1))
            .Select(i => new SlotPlacement
            {
                Kind = "memory_plus",
                ReadAt = i,
                AddAfter = i,
                Memory = layer,
            })
            .ToList();
        return (baseConfig with { MemoryLayers = placements, SharedValueRows = layer.Rows }).Validate();
    }
}
