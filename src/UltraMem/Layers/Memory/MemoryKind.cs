using UltraMem.IO;

namespace UltraMem.Layers.Memory;

/// <summary>
/// The memory-layer kinds: <c>pkm</c>, <c>ultramem</c>, <c>ultramemv2</c> and <c>memory_plus</c> all build a
/// <see cref="MemoryLayer"/> configured by a <c>memory</c> block (<see cref="MemoryConfig"/>); the kind only chooses the
/// defaults used when the block is absent (<see cref="MemoryRecipes"/>): the ladder's <c>pkm</c> or <c>ultramem</c> rung as
/// one layer holding the whole table and all selections, UltraMemV2's layer, or Memory+'s layer owning its table (a shared
/// one needs the model's <c>shared_value_rows</c>).
/// </summary>
public sealed class MemoryKind : SlotKind<MemoryConfig>
{
    public static readonly MemoryKind Pkm = new("pkm", m => MemoryRecipes.LadderLayer(m, MemoryRecipes.StepOf("pkm"), layers: 1));
    public static readonly MemoryKind UltraMem = new(
        "ultramem",
        m => MemoryRecipes.LadderLayer(m, MemoryRecipes.StepOf("ultramem"), layers: 1)
    );
    public static readonly MemoryKind UltraMemV2 = new("ultramemv2", m => MemoryRecipes.UltraMemV2Layer(m));
    public static readonly MemoryKind MemoryPlus = new("memory_plus", m => MemoryRecipes.MemoryPlusLayer(m) with { SharedValues = false });

    readonly Func<SlotContext, MemoryConfig> _defaults;

    public MemoryKind(string name, Func<SlotContext, MemoryConfig> defaults)
        : base(name, "memory")
    {
        _defaults = defaults;
    }

    public override MemoryConfig Defaults(SlotContext model) => _defaults(model);

    /// <summary>Dv = D when unset; TDQKR's coarse_top = top_m when unset.</summary>
    public override MemoryConfig Resolve(MemoryConfig c, SlotContext model) =>
        c with
        {
            ValueDim = c.ValueDim ?? model.DModel,
            CoarseTop = c.IsTucker ? c.CoarseTop ?? c.TopM : c.CoarseTop,
        };

    public override void Validate(MemoryConfig c, int dModel, string where) => c.Validate(dModel, where);

    public override FeedForwardSlot Build(MemoryConfig c, SlotContext model, SharedMemory? shared) =>
        new MemoryLayer(model.DModel, c, shared);

    public override ParameterCount Count(MemoryConfig c, SlotContext model) => MemoryAccounting.Count(c, model.DModel);

    public override string? Describe(MemoryConfig c, SlotContext model, long? sharedRows) => Describe(c, model.DModel, sharedRows);

    public override string? SparsePart(MemoryConfig m, SlotContext model, int layers) =>
        $"{layers} x n={m.NKeys} (N={m.Rows:N0}, Dv={m.ValueDimResolved(model.DModel)}"
        + (m.PreValueDim is { } dp ? $", Dp={dp}" : "")
        + $", H={m.Heads}, m={m.TopM})";

    /// <summary>Each distinct selected row is read once from the values and the pre-values: H·m rows per token.</summary>
    public override double SparseParametersRead(MemoryConfig mem, SlotContext model, int batch, bool uniform) =>
        ExpectedRows(mem.Rows, (long)mem.Heads * mem.TopM, batch, uniform) * (mem.ValueDimResolved(model.DModel) + mem.PreValueDimResolved);

    /// <summary>n_keys (N = n² rows); the smallest n whose grid still holds the top-m.</summary>
    public override SizeKnob? TableKnob { get; } =
        Knob((c, n) => c with { NKeys = n }, (c, _, from) => Math.Max(Math.Max(from, 2), MemoryRecipes.MinKeys(c)), 1 << 15);

    /// <summary>One line with the shape of a layer with config <paramref name="c"/> (no layer built); <paramref name="sharedRows"/>: the
    /// shared table's size.</summary>
    public static string Describe(MemoryConfig c, int dModel, long? sharedRows)
    {
        string retrieval = c.IsTucker
            ? $"TDQKR r={c.Rank} h={c.Cores} coarse {c.CoarseTopResolved}"
                + (c.CoarseSearch == CoarseSearch.Top ? "" : $" ({JsonEnum.Name(c.CoarseSearch)})")
                + (c.TuckerAuxLoss ? " +aux" : "")
            : "product keys";
        var parts = new List<string>
        {
            $"N={c.Rows:N0} values x Dv={c.ValueDimResolved(dModel)} (n={c.NKeys}"
                + (c.Expansion > 1 ? $", E={c.Expansion} -> {c.VirtualKeys} keys/side, {c.Rows * c.Expansion:N0} virtual" : "")
                + ")",
            $"H={c.Heads} x m={c.TopM}",
            $"Dk={c.KeyDim}",
            retrieval,
            c.Softmax ? "softmax" : "raw scores",
        };
        if (c.SharedValues)
            parts.Add($"shared table rows [{c.SharedOffset:N0}, +{c.Rows:N0}) of {sharedRows:N0}");
        if (c.QueryPerRank)
            parts.Add("query per rank");
        if (c.PreValueDim is { } dp)
            parts.Add(
                $"pre-values Dp={dp}" + (c.PreValueActivation == PreValueActivation.None ? "" : $" {JsonEnum.Name(c.PreValueActivation)}")
            );
        if (c.OutputGate)
            parts.Add("SiLU output gate");
        if (c.HasProjection(dModel))
            parts.Add(c.SingleProjector && c.Expansion > 1 ? "single value_proj" : "value_proj");
        if (c.ShareQuery)
            parts.Add("shared query");
        if (c.QkNorm)
            parts.Add("qk-norm");
        if (c.QueryConv)
            parts.Add($"query conv k={c.QueryConvKernel}");
        parts.Add($"query {JsonEnum.Name(c.QueryNorm)}");
        parts.Add($"init {JsonEnum.Name(c.Init)}");
        if (c.ValueLr is { } lr)
            parts.Add($"value lr fixed {lr:G3}");
        else if (c.ValueLrMultiplier != 1)
            parts.Add($"value lr x{c.ValueLrMultiplier}->1");
        return string.Join(", ", parts);
    }
}
