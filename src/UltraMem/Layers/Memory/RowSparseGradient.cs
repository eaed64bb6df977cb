using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UltraMem.Layers.Memory;

/// <summary>
/// Row-sparse gradient of a huge table (a memory layer's values). When <see cref="Enabled"/>, the owning layer
/// reads the table through <see cref="Gather"/>: the rows a step selects are copied into a small leaf tensor, the
/// lookup runs on that copy, and backward fills only its gradient. The dense table parameter gets no gradient at all,
/// so a step costs O(rows selected), not O(table) — no dense N×Dv gradient, no dense optimizer update
/// (the optimizer reads <see cref="Coalesce"/> and updates only those rows, see <c>Training.AdamW</c>).
/// </summary>
public sealed class RowSparseGradient : IDisposable
{
    readonly List<(Tensor Rows, Parameter Leaf)> _pending = new();
    (Tensor Rows, Tensor Grad)? _coalesced;

    public RowSparseGradient(Parameter table)
    {
        Table = table;
    }

    /// <summary>The dense table (state-dict parameter).</summary>
    public Parameter Table { get; }

    /// <summary>Whether training forwards read the table row-sparsely. Off: the exact dense path (dense gradient).</summary>
    public bool Enabled { get; set; }

    /// <summary>True when some gathered rows are waiting for the optimizer.</summary>
    public bool HasPending => _pending.Count > 0;

    /// <summary>
    /// A leaf copy of rows <paramref name="rows"/> (Int64 [U], distinct) of the table, requiring grad. The caller
    /// indexes into it with positions 0..U-1. This object keeps the copy (and, after backward, its gradient)
    /// until <see cref="Clear"/>; the caller must not dispose it.
    /// </summary>
    public Parameter Gather(Tensor rows)
    {
        Tensor copy;
        using (no_grad())
            copy = Table.index_select(0, rows);
        var leaf = new Parameter(copy, requires_grad: true);
        leaf.DetachFromDisposeScope();
        _pending.Add((rows.detach().clone().DetachFromDisposeScope(), leaf));
        DropCoalesced();
        return leaf;
    }

    /// <summary>
    /// The summed gradient of every gathered row since the last <see cref="Clear"/>: distinct sorted row ids
    /// [U] and their gradients [U, ...]; null when no gathered copy received a gradient. Computed once and cached,
    /// so a clipper can scale <c>Grad</c> in place before the optimizer reads it.
    /// </summary>
    public (Tensor Rows, Tensor Grad)? Coalesce()
    {
        if (_coalesced is { } c)
            return c;
        var withGrad = _pending.Where(p => p.Leaf.grad is not null).ToList();
        if (withGrad.Count == 0)
            return null;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var rows = withGrad.Count == 1 ? withGrad[0].Rows : cat(withGrad.Select(p => p.Rows).ToArray(), 0);
        var grads = withGrad.Count == 1 ? withGrad[0].Leaf.grad! : cat(withGrad.Select(p => p.Leaf.grad!).ToArray(), 0);
        var (uniq, inverse, _) = unique(rows, sorted: true, return_inverse: true);
        var shape = grads.shape.ToArray();
        shape[0] = uniq.shape[0];
        var summed = zeros(shape, dtype: grads.dtype, device: grads.device).index_add_(0, inverse!, grads, 1.0);
        _coalesced = (uniq.DetachFromDisposeScope(), summed.DetachFromDisposeScope());
        return _coalesced;
    }

    /// <summary>Drops the gathered copies and their gradients (call after the optimizer step, like zero_grad).</summary>
    public void Clear()
    {
        foreach (var (r, l) in _pending)
        {
            r.Dispose();
            l.Dispose();
        }
        _pending.Clear();
        DropCoalesced();
    }

    void DropCoalesced()
    {
        if (_coalesced is { } c)
        {
            c.Rows.Dispose();
            c.Grad.Dispose();
        }
        _coalesced = null;
    }

    public void Dispose() => Clear();
}
