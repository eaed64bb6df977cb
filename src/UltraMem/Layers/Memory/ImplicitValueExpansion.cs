using static TorchSharp.torch;

namespace UltraMem.Layers.Memory;

/// <summary>
/// IVE — implicit value expansion (UltraMem, arXiv:2411.12364; docs/memory-layers.md). The key grid addresses E·N virtual values Ṽ = [V
/// W_1; …; V W_E]
/// that are never materialised: a fixed random permutation π of [0, E·N) (a buffer saved with the model) maps a
/// virtual address v to group g = π(v) / N and physical row p = π(v) mod N. The layer pools each group's
/// selected rows separately and one Linear(E·Dv → D) applies all E projectors W_g at once.
/// The shuffle removes the grid's row/column prior (otherwise the E copies of a value would be co-selected).
/// </summary>
public sealed class ImplicitValueExpansion : nn.Module
{
    public Tensor permutation; // [E·N] Int64 buffer
    readonly long _rows;

    public ImplicitValueExpansion(MemoryConfig c)
        : base(nameof(ImplicitValueExpansion))
    {
        _rows = c.Rows;
        permutation = randperm(c.Rows * c.Expansion, dtype: ScalarType.Int64);
        RegisterComponents();
    }

    /// <summary>Virtual addresses [..] → (group g, physical row p), same shape.</summary>
    public (Tensor Group, Tensor Row) Map(Tensor addresses)
    {
        using var scope = NewDisposeScope();
        var pv = permutation.index_select(0, addresses.flatten()).view_as(addresses);
        return (pv.floor_divide(_rows).MoveToOuterDisposeScope(), pv.remainder(_rows).MoveToOuterDisposeScope());
    }
}
