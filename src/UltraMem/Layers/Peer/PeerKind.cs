using UltraMem.Layers.Memory;

namespace UltraMem.Layers.Peer;

/// <summary>The <c>peer</c> kind: PEER's single-neuron experts behind product keys, configured by a <c>peer</c> block (<see
/// cref="PeerConfig"/>).</summary>
public sealed class PeerKind : SlotKind<PeerConfig>
{
    public static readonly PeerKind Instance = new();

    PeerKind()
        : base("peer", "peer") { }

    public override PeerConfig Defaults(SlotContext model) => PeerConfig.DefaultFor(model);

    public override void Validate(PeerConfig c, int dModel, string where) => c.Validate(dModel, where);

    public override FeedForwardSlot Build(PeerConfig c, SlotContext model, SharedMemory? shared) => new PeerLayer(model.DModel, c);

    public override ParameterCount Count(PeerConfig c, SlotContext model) => PeerLayer.Accounting(c, model.DModel);

    public override string? Describe(PeerConfig c, SlotContext model, long? sharedRows) => PeerLayer.Describe(c, model.DModel);

    public override string? SparsePart(PeerConfig p, SlotContext model, int layers) =>
        $"{layers} x n={p.NKeys} ({p.Experts:N0} experts, h={p.Heads} x k={p.TopK})";

    /// <summary>Each distinct selected expert reads one row of u and one of v (D each): h·k experts per token.</summary>
    public override double SparseParametersRead(PeerConfig peer, SlotContext model, int batch, bool uniform) =>
        ExpectedRows((long)peer.NKeys * peer.NKeys, (long)peer.Heads * peer.TopK, batch, uniform) * 2.0 * model.DModel;

    /// <summary>n_keys (N = n² experts); the smallest valid n at width D.</summary>
    public override SizeKnob? TableKnob { get; } =
        Knob(
            (c, n) => c with { NKeys = n },
            (c, d, from) => MemoryRecipes.SmallestValid(n => (c with { NKeys = n }).Validate(d), from: Math.Max(from, 2)),
            1 << 15
        );
}
