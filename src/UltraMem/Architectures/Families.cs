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

    /// <summary>Every name <c>--arch</c> accepts: the family members, the ladder rungs, <c>ultramemv2+ring</c>, and the TDQKR
    /// search variants (<see cref="SearchVariants"/>).</summary>
    public static IReadOnlyList<string> Architectures =>
        Members.Concat(MemoryPresets.Ladder).Append("ultramemv2+ring").Concat(SearchVariants.Keys).Distinct().ToList();

    /// <summary>
    /// <c>ultramem</c> and <c>ultramemv2</c> with another TDQKR coarse search (<see cref="CoarseSearch"/>): the same model as
    /// the member — matched as the member, then only the search changed — so that a comparison isolates the search.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, (string Arch, CoarseSearch Search)> SearchVariants = new Dictionary<
        string,
        (string, CoarseSearch)
    >
    {
        ["ultramem+both_ends"] = ("ultramem", CoarseSearch.BothEnds),
        ["ultramem+exact"] = ("ultramem", CoarseSearch.Exact),
        ["ultramemv2+both_ends"] = ("ultramemv2", CoarseSearch.BothEnds),
        ["ultramemv2+exact"] = ("ultramemv2", CoarseSearch.Exact),
    };

    /// <summary><paramref name="c"/> with every TDQKR memory layer searching by <paramref name="search"/>.</summary>
    static ModelConfig WithSearch(ModelConfig c, CoarseSearch search) =>
        c with
        {
            MemoryLayers = c
                .MemoryLayers.Select(p => p.Memory is { IsTucker: true } m ? p with { Memory = m with { CoarseSearch = search } } : p)
                .ToList(),
        };

    /// <summary>Structure of <paramref name="arch"/> on the backbone <paramref name="baseConfig"/>, before matching.</summary>
    public static ModelConfig Template(ModelConfig baseConfig, string arch)
    {
        var b = Backbone(baseConfig);
        if (SearchVariants.TryGetValue(arch, out var variant))
            return WithSearch(Template(b, variant.Arch), variant.Search);
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
        if (SearchVariants.TryGetValue(arch, out var variant))
            return WithSearch(Matched(baseConfig, variant.Arch, targets), variant.Search);
        return FamilyMatcher.Match(Template(baseConfig, arch), targets.Flops, arch == "dense" ? null : targets.Total);
    }
}
