using UltraMem.Layers.Memory;

namespace UltraMem.Layers.Moe;

/// <summary>The <c>moe</c> kind: a top-k mixture of SwiGLU experts configured by a <c>moe</c> block (<see cref="MoeConfig"/>).</summary>
public sealed class MoeKind : SlotKind<MoeConfig>
{
    public static readonly MoeKind Instance = new();

    MoeKind()
        : base("moe", "moe") { }

    /// <summary>8 experts, top-2, experts FFN width / 2 (<see cref="MoeConfig"/>'s defaults).</summary>
    public override MoeConfig Defaults(SlotContext model) => new();

    /// <summary>expert_hidden = the model's FFN width / top_k when unset.</summary>
    public override MoeConfig Resolve(MoeConfig c, SlotContext model) => c with { ExpertHidden = c.ExpertHiddenResolved(model.FfnHidden) };

    public override void Validate(MoeConfig c, int dModel, string where) => c.Validate(dModel, where);

    public override FeedForwardSlot Build(MoeConfig c, SlotContext model, SharedMemory? shared) =>
        new MixtureOfExperts(model.DModel, c, model.FfnHidden);

    public override ParameterCount Count(MoeConfig c, SlotContext model) => MixtureOfExperts.Accounting(c, model.DModel, model.FfnHidden);

    public override string? Describe(MoeConfig c, SlotContext model, long? sharedRows) =>
        MixtureOfExperts.Describe(c, model.DModel, model.FfnHidden);

    public override string? SparsePart(MoeConfig c, SlotContext model, int layers) =>
        $"{layers} x {c.TopK}in{c.Experts} (expert_hidden {c.ExpertHiddenResolved(model.FfnHidden)}; replace the FFNs)";

    /// <summary>Every expert a token is routed to is read whole: gate, up and down, 3·D·H_e parameters; k per token.</summary>
    public override double SparseParametersRead(MoeConfig c, SlotContext model, int batch, bool uniform) =>
        ExpectedRows(c.Experts, c.TopK, batch, uniform) * 3.0 * model.DModel * c.ExpertHiddenResolved(model.FfnHidden);

    /// <summary>The number of experts, from top_k up.</summary>
    public override SizeKnob? TableKnob { get; } = Knob((c, n) => c with { Experts = n }, (c, _, from) => Math.Max(from, c.TopK), 1 << 16);

    /// <summary>The expert width: MoE layers replace the FFNs, so their width sets the compute.</summary>
    public override Func<object, int, object>? WithComputeWidth { get; } = (c, h) => (MoeConfig)c with { ExpertHidden = h };
}
