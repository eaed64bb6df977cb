using UltraMem.Layers;
using UltraMem.Layers.Memory;

namespace UltraMem.Tests.Structure.ToyKind;

/// <summary>The toy kind: JSON <c>"kind": "toy_lookup"</c> with a <c>toy</c> block. Registered with one line,
/// <c>SlotKinds.Register(ToyLookupKind.Instance)</c>.</summary>
public sealed class ToyLookupKind : SlotKind<ToyLookupConfig>
{
    public static readonly ToyLookupKind Instance = new();

    ToyLookupKind()
        : base("toy_lookup", "toy") { }

    public override ToyLookupConfig Defaults(SlotContext model) => new() { Rows = 8 * model.NLayers, Kappa = 2 };

    public override void Validate(ToyLookupConfig c, int dModel, string where)
    {
        if (c.Rows < 1 || c.Rank < 1)
            throw new UltraMemException($"invalid {where}: rows and rank must be >= 1 (got {c.Rows}, {c.Rank})");
    }

    public override FeedForwardSlot Build(ToyLookupConfig c, SlotContext model, SharedMemory? shared) =>
        new ToyLookupLayer(model.DModel, c);

    /// <summary>down and up read by every token, one table row per token.</summary>
    public override ParameterCount Count(ToyLookupConfig c, SlotContext model)
    {
        long d = model.DModel,
            r = c.Rank;
        return new ParameterCount(2 * d * r + c.Rows * d, 2 * d * r + d, 4 * d * r + d);
    }
}
