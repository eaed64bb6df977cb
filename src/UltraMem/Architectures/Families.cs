using UltraMem.Layers.Memory;
using UltraMem.Layers.Moe;
using UltraMem.Layers.Peer;
using UltraMem.Model;

namespace UltraMem.Architectures;

/// <summary>
/// Architectures built on a preset so that they can be compared fairly, as the papers compare them (docs/families.md): every member of a
/// family has the same
/// <b>activated compute</b> (forward FLOPs per token, <see cref="Targets"/>) and every sparse member the <b>total parameters</b>
/// of the family's UltraMem model (the ladder's <c>ultramem</c> rung: value tables ≈ 10× the dense parameters).
/// <see cref="FamilyMatcher"/> does the sizing; <c>ultramem info --arch NAME</c> prints the resulting ratios.
/// </summary>
public static class Families
{
    /// <summary>The members of a matched family.</summary>
    public static readonly string[] Members = { "dense", "moe", "pkm", "memory_plus", "peer", "ultramem", "ultramemv2" };

    /// <summary>Every name <c>--arch</c> accepts: the family members, the ladder rungs, <c>ultramemv2+ring</c>, and the study
    /// variants (<see cref="Variants"/>).</summary>
    public static IReadOnlyList<string> Architectures =>
        Members.Concat(MemoryPresets.Ladder).Append("ultramemv2+ring").Concat(Variants.Keys).Distinct().ToList();

    /// <summary>
    /// A member with one memory-layer setting changed, for studies of that setting (docs/results.md): the same model as the
    /// member — matched as the member, then only the setting changed — so that a comparison isolates it. The TDQKR coarse
    /// searches of <c>ultramem</c> and <c>ultramemv2</c> (<see cref="CoarseSearch"/>), and <c>memory_plus</c> with the
    /// gain-1 qk-norm it had before it followed Meta's released code.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, (string Arch, Func<MemoryConfig, MemoryConfig> Change)> Variants = new Dictionary<
        string,
        (string, Func<MemoryConfig, MemoryConfig>)
    >
    {
        ["ultramem+both_ends"] = ("ultramem", m => m with { CoarseSearch = CoarseSearch.BothEnds }),
        ["ultramem+exact"] = ("ultramem", m => m with { CoarseSearch = CoarseSearch.Exact }),
        ["ultramemv2+both_ends"] = ("ultramemv2", m => m with { CoarseSearch = CoarseSearch.BothEnds }),
        ["ultramemv2+exact"] = ("ultramemv2", m => m with { CoarseSearch = CoarseSearch.Exact }),
        ["memory_plus+qk_norm"] = ("memory_plus", m => m with { QkNorm = true }),
    };

    /// <summary><paramref name="c"/> with <paramref name="change"/> applied to every memory layer's block.</summary>
    static ModelConfig WithMemory(ModelConfig c, Func<MemoryConfig, MemoryConfig> change) =>
        c with
        {
            MemoryLayers = c.MemoryLayers.Select(p => p.Memory is { } m ? p with { Memory = change(m) } : p).ToList(),
        };

    /// <summary>Structure of <paramref name="arch"/> on the backbone <paramref name="baseConfig"/>, before matching.</summary>
    public static ModelConfig Template(ModelConfig baseConfig, string arch)
    {
        var b = Backbone(baseConfig);
        if (Variants.TryGetValue(arch, out var variant))
            return WithMemory(Template(b, variant.Arch), variant.Change);
        return arch switch
        {
            "dense" => b,
            // MoE "2inN" (the UltraMem papers' baseline): every block's FFN becomes top-2 of N SwiGLU experts of half the FFN width
            "moe" => b with
            {
                MemoryLayers = Enumerable
                    .Range(0, b.NLayers)
                    .Select(i => new SlotPlacement
                    {
                        Kind = "moe",
                        ReadAt = i,
                        AddAfter = i,
                        ReplaceFfn = true,
                        Moe = new MoeConfig
                        {
                            Experts = 8,
                            TopK = 2,
                            ExpertHidden = Math.Max(4, b.FfnHiddenResolved / 2),
                        },
                    })
                    .ToList(),
            },
            // PEER: one layer of 4 heads × top-16 single-neuron experts parallel to the middle block's FFN (like the pkm rung)
            "peer" => b with
            {
                MemoryLayers = new()
                {
                    new SlotPlacement
                    {
                        Kind = "peer",
                        ReadAt = b.NLayers / 2,
                        AddAfter = b.NLayers / 2,
                        Peer = PeerConfig.DefaultFor(b),
                    },
                },
            },
            "memory_plus" => MemoryPresets.MemoryPlus(b),
            "ultramemv2" => MemoryPresets.UltraMemV2(b),
            "ultramemv2+ring" => MemoryPresets.UltraMemV2(b, ringShareRatio: Math.Min(1.0, 2.0 / b.NLayers)),
            _ when MemoryPresets.Ladder.Contains(arch) => MemoryPresets.Apply(b, arch),
            _ => throw new UltraMemException($"unknown architecture '{arch}' (known: {string.Join(", ", Architectures)})"),
        };
    }

    /// <summary>The dense model a config is built on: no plugged-in layers, no shared table.</summary>
    public static ModelConfig Backbone(ModelConfig c) => c.Backbone();

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

    /// <summary><see cref="Matched(ModelConfig, string)"/> with the family's <see cref="Targets"/> already computed (building several
    /// members).</summary>
    public static ModelConfig Matched(ModelConfig baseConfig, string arch, (long Flops, long Total) targets)
    {
        if (Variants.TryGetValue(arch, out var variant))
            return WithMemory(Matched(baseConfig, variant.Arch, targets), variant.Change);
        return FamilyMatcher.Match(Template(baseConfig, arch), targets.Flops, arch == "dense" ? null : targets.Total);
    }
}
