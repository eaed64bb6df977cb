using TorchSharp.Modules;
using UltraMem.Layers;
using UltraMem.Layers.Memory;
using static TorchSharp.torch;

namespace UltraMem.Tests.Structure.ToyKind;

/// <summary>
/// A toy feed-forward slot defined outside the library: <c>o = up(down(x)) + table[argmax(down(x))]</c>.
/// <code>
///   x [B, T, D] ─ down ─▶ h [B, T, r] ─ up ─▶ [B, T, D]
///                          └─ argmax ─▶ row ─ table ─▶ [B, T, D]   (one value row per token)
/// </code>
/// Its table is a <see cref="ValueTable"/>, so it gets a value-lr group and row-sparse training without any code of its own.
/// </summary>
public sealed class ToyLookupLayer : FeedForwardSlot
{
    public Linear down,
        up;
    public ValueTable table;

    readonly int _dModel;

    public ToyLookupConfig Options { get; }

    public ToyLookupLayer(int dModel, ToyLookupConfig c)
        : base(nameof(ToyLookupLayer))
    {
        _dModel = dModel;
        Options = c;
        down = nn.Linear(dModel, c.Rank, hasBias: false);
        up = nn.Linear(c.Rank, dModel, hasBias: false);
        table = new ValueTable(c.Rows, dModel) { Group = c.Kappa is { } k ? new ValueGroup(k, null) : null };
        RegisterComponents();
        using (no_grad())
            nn.init.normal_(table.weight, 0, 0.02);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = down.forward(x); // [B, T, r]
        var row = h.argmax(-1); // [B, T]
        return (up.forward(h) + table.Lookup(row)).MoveToOuterDisposeScope();
    }

    public override ParameterCount Count() => ToyLookupKind.Instance.Count(Options, SlotContext.Standalone(_dModel));
}
