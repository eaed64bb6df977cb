using UltraMem.Layers;
using UltraMem.Model;

namespace UltraMem.Architectures;

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
                c = HasComputeKnob(c)
                    ? SearchInt(4, 64 * c.DModel, h => WithComputeWidth(c, h), x => ModelAccounting.Total(x).FlopsPerToken, f, step: 4)
                    : SearchInt(4, 64 * c.DModel, h => c with { FfnHidden = h }, x => ModelAccounting.Total(x).FlopsPerToken, f, step: 4);
            if (totalTarget is { } t && HasSparsePart(c))
                c = SearchInt(SmallestTable(c), LargestTable(c), n => WithTableSize(c, n), x => ModelAccounting.Total(x).Total, t, step: 1);
            var now = ModelAccounting.Total(c);
            if (
                (flopsTarget is null || Close(now.FlopsPerToken, flopsTarget.Value))
                && (totalTarget is null || !HasSparsePart(c) || Close(now.Total, totalTarget.Value))
            )
                break;
        }
        return c.Validate();
    }

    static bool Close(long a, long b) => Math.Abs(a - b) <= 0.002 * b;

    /// <summary>The placements with a settings block whose kind has a table knob, with the knob.</summary>
    static IEnumerable<(SlotPlacement Placement, SizeKnob Knob)> TableKnobs(ModelConfig c) =>
        c
            .MemoryLayers.Where(p => p.Settings is not null)
            .Select(p => (p, SlotKinds.Get(p.Kind).TableKnob))
            .Where(x => x.TableKnob is not null)!;

    /// <summary>Layers that replace the FFN's compute (MoE): their width is the compute knob instead of ffn_hidden.</summary>
    static bool HasComputeKnob(ModelConfig c) =>
        c.MemoryLayers.Any(p => p.Settings is not null && SlotKinds.Get(p.Kind).WithComputeWidth is not null);

    static bool HasSparsePart(ModelConfig c) => TableKnobs(c).Any();

    static int SmallestTable(ModelConfig c) =>
        TableKnobs(c).Aggregate(1, (from, x) => x.Knob.Smallest(x.Placement.Settings!, c.DModel, from));

    static int LargestTable(ModelConfig c) => TableKnobs(c).Min(x => x.Knob.Largest);

    /// <summary>Every compute-knob layer (MoE) set to width <paramref name="width"/>.</summary>
    static ModelConfig WithComputeWidth(ModelConfig c, int width) =>
        c with
        {
            MemoryLayers = c
                .MemoryLayers.Select(p =>
                    p.Settings is { } s && SlotKinds.Get(p.Kind).WithComputeWidth is { } with ? p with { Settings = with(s, width) } : p
                )
                .ToList(),
        };

    /// <summary>Every MoE layer's config changed by <paramref name="change"/>.</summary>
    public static ModelConfig WithMoe(ModelConfig c, Func<Layers.Moe.MoeConfig, Layers.Moe.MoeConfig> change) =>
        c with
        {
            MemoryLayers = c.MemoryLayers.Select(p => p.Moe is null ? p : p with { Moe = change(p.Moe) }).ToList(),
        };

    /// <summary>
    /// Every sparse layer's table knob set to <paramref name="n"/> (they share one size: n_keys of memory and PEER layers,
    /// experts of MoE layers); a shared table follows (G = n² for Memory+, n²·L_m for UltraMemV2's ring).
    /// </summary>
    public static ModelConfig WithTableSize(ModelConfig c, int n)
    {
        var mems = c.MemoryLayers.Where(p => p.Memory is not null).ToList();
        bool ring = mems.Any(p => p.Memory!.SharedOffset > 0);
        if (ring)
        { // rebuild the ring from per-layer tables of n keys with the same share ratio
            double ratio = mems[0].Memory!.Rows / (double)c.SharedValueRows!.Value;
            var unshared = c with
            {
                SharedValueRows = null,
                MemoryLayers = c
                    .MemoryLayers.Select(p =>
                        p.Memory is null ? p : p with { Memory = p.Memory with { NKeys = n, SharedValues = false, SharedOffset = 0 } }
                    )
                    .ToList(),
            };
            return MemoryPresets.RingShared(unshared, ratio);
        }
        var placements = c
            .MemoryLayers.Select(p =>
                p.Settings is { } s && SlotKinds.Get(p.Kind).TableKnob is { } k ? p with { Settings = k.With(s, n) } : p
            )
            .ToList();
        return c with { MemoryLayers = placements, SharedValueRows = c.SharedValueRows is null ? null : (long)n * n };
    }

    /// <summary>The value of an integer knob in [lo, hi] (multiples of <paramref name="step"/>) whose metric is closest to the target; the
    /// metric must grow with the knob.</summary>
    static ModelConfig SearchInt(int lo, int hi, Func<int, ModelConfig> build, Func<ModelConfig, long> metric, long target, int step)
    {
        lo = (lo + step - 1) / step;
        hi /= step;
        int a = lo,
            b = hi;
        while (a < b)
        {
            int mid = (a + b) / 2;
            if (metric(build(mid * step)) < target)
                a = mid + 1;
            else
                b = mid;
        }
        // a·step is the first knob reaching the target; the one below may be closer
        var best = build(a * step);
        if (a > lo)
        {
            var below = build((a - 1) * step);
            if (Math.Abs(metric(below) - target) < Math.Abs(metric(best) - target))
                best = below;
        }
        return best;
    }
}
