using UltraMem.Layers.Memory;

namespace UltraMem.Model;

/// <summary>
/// Architectures built on a preset so that they can be compared fairly (spec §6, §8): every member of a family has the same
/// <b>activated compute</b> (forward FLOPs per token, <see cref="Targets"/>) and every sparse member the <b>total parameters</b>
/// of the family's UltraMem model (the ladder's <c>ultramem</c> rung: value tables ≈ 10× the dense parameters).
/// <see cref="FamilyMatcher"/> does the sizing; <c>ultramem info --arch NAME</c> prints the resulting ratios.
/// </summary>
public static class Families
{
    /// <summary>The members of a matched family.</summary>
    public static readonly string[] Members = { "dense", "moe", "pkm", "memory_plus", "peer", "ultramem", "ultramemv2" };

    /// <summary>Every name <c>--arch</c> accepts: the family members, the ladder rungs, and <c>ultramemv2+ring</c>.</summary>
    public static IReadOnlyList<string> Architectures => Members.Concat(MemoryPresets.Ladder).Append("ultramemv2+ring").Distinct().ToList();

    /// <summary>Structure of <paramref name="arch"/> on the backbone <paramref name="baseConfig"/>, before matching.</summary>
    public static ModelConfig Template(ModelConfig baseConfig, string arch)
    {
        var b = Backbone(baseConfig);
        return arch switch
        {
            "dense" => b,
            // MoE "2inN" (spec §5, §8): every block's FFN becomes top-2 of N SwiGLU experts of half the FFN width
            "moe" => b with
            {
                MemoryLayers = Enumerable.Range(0, b.NLayers).Select(i => new SlotPlacement
                {
                    Kind = "moe", ReadAt = i, AddAfter = i, ReplaceFfn = true,
                    Moe = new Layers.Moe.MoeConfig { Experts = 8, TopK = 2, ExpertHidden = Math.Max(4, b.FfnHiddenResolved / 2) },
                }).ToList(),
            },
            // PEER: one layer of 4 heads × top-16 single-neuron experts parallel to the middle block's FFN (like the pkm rung)
            "peer" => b with
            {
                MemoryLayers = new() { new SlotPlacement { Kind = "peer", ReadAt = b.NLayers / 2, AddAfter = b.NLayers / 2, Peer = Layers.Peer.PeerConfig.DefaultFor(b) } },
            },
            "memory_plus" => MemoryPresets.MemoryPlus(b),
            "ultramemv2" => MemoryPresets.UltraMemV2(b),
            "ultramemv2+ring" => MemoryPresets.UltraMemV2(b, ringShareRatio: Math.Min(1.0, 2.0 / b.NLayers)),
            _ when MemoryPresets.Ladder.Contains(arch) => MemoryPresets.Apply(b, arch),
            _ => throw new UltraMemException($"unknown architecture '{arch}' (known: {string.Join(", ", Architectures)})"),
        };
    }

    /// <summary>The dense model a config is built on: no plugged-in layers, no shared table.</summary>
    public static ModelConfig Backbone(ModelConfig c) => c with { MemoryLayers = new(), SharedValueRows = null };

    /// <summary>
    /// The family's targets on <paramref name="baseConfig"/>: total parameters T of the ladder's <c>ultramem</c> rung (value
    /// tables ≈ 10× the dense parameters), and activated FLOPs per token A = the dense preset's — raised where a sparse member
    /// sized to T would need to cut its FFN below half the preset's width to fit (small models, where the keys of a large table
    /// cost more than the FFN); the dense member then gets a wider FFN.
    /// </summary>
    public static (long Flops, long Total) Targets(ModelConfig baseConfig)
    {
        var b = Backbone(baseConfig);
        long total = ModelAccounting.Total(Template(b, "ultramem")).Total;
        long flops = ModelAccounting.Total(b).FlopsPerToken;
        int halfFfn = b.FfnHiddenResolved / 2;
        foreach (var m in Members.Where(m => m != "dense"))
        {
            var atHalf = FamilyMatcher.Match(Template(b, m) with { FfnHidden = halfFfn }, flopsTarget: null, total);
            flops = Math.Max(flops, ModelAccounting.Total(atHalf).FlopsPerToken);
        }
        return (flops, total);
    }

    /// <summary>
    /// <paramref name="arch"/> on <paramref name="baseConfig"/>, matched to the family: FLOPs per token of the dense model and,
    /// except for <c>dense</c>, the total parameters of the family's UltraMem.
    /// </summary>
    public static ModelConfig Matched(ModelConfig baseConfig, string arch) => Matched(baseConfig, arch, Targets(baseConfig));

    /// <summary><see cref="Matched(ModelConfig, string)"/> with the family's <see cref="Targets"/> already computed (building several members).</summary>
    public static ModelConfig Matched(ModelConfig baseConfig, string arch, (long Flops, long Total) targets)
    {
        return FamilyMatcher.Match(Template(baseConfig, arch), targets.Flops, arch == "dense" ? null : targets.Total);
    }
}

/// <summary>
/// Sizes a model config so that its activated compute and total parameters equal given targets, using the config-only
/// accounting (<see cref="ModelAccounting"/>). Two knobs, found from the config's structure:
/// <list type="bullet">
/// <item>activated compute — the backbone's FFN width (<c>ffn_hidden</c>; memory and PEER layers add FLOPs, the FFN gives
/// them back), or the experts' width (<c>expert_hidden</c>) when MoE layers replace the FFNs;</item>
/// <item>total parameters — the table size: <c>n_keys</c> of every memory or PEER layer (and a shared table's rows with it),
/// or the number of experts of every MoE layer.</item>
/// </list>
/// The knobs interact a little (the FFN also holds parameters, keys cost FLOPs), so they are set alternately until both agree.
/// </summary>
public static class FamilyMatcher
{
    /// <summary>Sizes <paramref name="config"/>'s knobs to the targets; a null target leaves its knob alone.</summary>
    public static ModelConfig Match(ModelConfig config, long? flopsTarget, long? totalTarget)
    {
        var c = config.Validate();
        for (int round = 0; round < 8; round++)
        {
            if (flopsTarget is { } f)
                c = IsMoe(c)
                    ? SearchInt(4, 64 * c.DModel, h => WithMoe(c, m => m with { ExpertHidden = h }), x => ModelAccounting.Total(x).FlopsPerToken, f, step: 4)
                    : SearchInt(4, 64 * c.DModel, h => c with { FfnHidden = h }, x => ModelAccounting.Total(x).FlopsPerToken, f, step: 4);
            if (totalTarget is { } t && HasSparsePart(c))
                c = IsMoe(c)
                    ? SearchInt(c.MemoryLayers.Where(p => p.Moe is not null).Max(p => p.Moe!.TopK), 1 << 16, n => WithMoe(c, m => m with { Experts = n }), x => ModelAccounting.Total(x).Total, t, step: 1)
                    : SearchInt(MinKeys(c), 1 << 15, n => WithKeys(c, n), x => ModelAccounting.Total(x).Total, t, step: 1);
            var now = ModelAccounting.Total(c);
            if ((flopsTarget is null || Close(now.FlopsPerToken, flopsTarget.Value)) && (totalTarget is null || !HasSparsePart(c) || Close(now.Total, totalTarget.Value))) break;
        }
        return c.Validate();
    }

    static bool Close(long a, long b) => Math.Abs(a - b) <= 0.002 * b;

    static bool IsMoe(ModelConfig c) => c.MemoryLayers.Any(p => p.Moe is not null);

    static bool HasSparsePart(ModelConfig c) => c.MemoryLayers.Any(p => p.Memory is not null || p.Peer is not null || p.Moe is not null);

    /// <summary>Every MoE layer's config changed by <paramref name="change"/>.</summary>
    public static ModelConfig WithMoe(ModelConfig c, Func<Layers.Moe.MoeConfig, Layers.Moe.MoeConfig> change) =>
        c with { MemoryLayers = c.MemoryLayers.Select(p => p.Moe is null ? p : p with { Moe = change(p.Moe) }).ToList() };

    static int MinKeys(ModelConfig c)
    {
        int min = 2;
        foreach (var p in c.MemoryLayers)
        {
            if (p.Memory is { } m) min = Math.Max(min, MemoryPresets.MinKeys(m));
            if (p.Peer is { } q) min = MemoryPresets.SmallestValid(n => (q with { NKeys = n }).Validate(c.DModel), from: min);
        }
        return min;
    }

    /// <summary>Every memory / PEER layer's n_keys set to n (they share one size); a shared table follows (G = n² for Memory+, n²·L_m for the ring).</summary>
    public static ModelConfig WithKeys(ModelConfig c, int n)
    {
        var mems = c.MemoryLayers.Where(p => p.Memory is not null).ToList();
        bool ring = mems.Any(p => p.Memory!.SharedOffset > 0);
        if (ring)
        {   // rebuild the ring from per-layer tables of n keys with the same share ratio
            double ratio = mems[0].Memory!.Rows / (double)c.SharedValueRows!.Value;
            var unshared = c with
            {
                SharedValueRows = null,
                MemoryLayers = c.MemoryLayers.Select(p => p.Memory is null ? p : p with { Memory = p.Memory with { NKeys = n, SharedValues = false, SharedOffset = 0 } }).ToList(),
            };
            return MemoryPresets.RingShared(unshared, ratio);
        }
        var placements = c.MemoryLayers.Select(p =>
            p.Memory is not null ? p with { Memory = p.Memory with { NKeys = n } } :
            p.Peer is not null ? p with { Peer = p.Peer with { NKeys = n } } : p).ToList();
        return c with { MemoryLayers = placements, SharedValueRows = c.SharedValueRows is null ? null : (long)n * n };
    }

    /// <summary>The value of an integer knob in [lo, hi] (multiples of <paramref name="step"/>) whose metric is closest to the target; the metric must grow with the knob.</summary>
    static ModelConfig SearchInt(int lo, int hi, Func<int, ModelConfig> build, Func<ModelConfig, long> metric, long target, int step)
    {
        lo = (lo + step - 1) / step; hi /= step;
        int a = lo, b = hi;
        while (a < b)
        {
            int mid = (a + b) / 2;
            if (metric(build(mid * step)) < target) a = mid + 1; else b = mid;
        }
        // a·step is the first knob reaching the target; the one below may be closer
        var best = build(a * step);
        if (a > lo)
        {
            var below = build((a - 1) * step);
            if (Math.Abs(metric(below) - target) < Math.Abs(metric(best) - target)) best = below;
        }
        return best;
    }
}
