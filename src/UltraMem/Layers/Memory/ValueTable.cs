using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UltraMem.Layers.Memory;

/// <summary>
/// The physical value table V [N, Dv] and its weighted lookup, fused into one EmbeddingBag (sum mode with
/// per-sample weights) so that only the m selected rows per token are read — never N.
/// Multi-core scoring (MCS, arXiv:2411.12364; docs/memory-layers.md) is the same lookup on the view V' = V.view(N·h, Dv/h): row i's chunk c
/// is V'[i·h + c] and is weighted by core c's score. With IVE each (token, group, chunk) is one bag.
/// In row-sparse mode (<see cref="Sparse"/>) training reads a gathered copy of the distinct selected rows, so the
/// dense table gets no gradient (see <see cref="RowSparseGradient"/>).
/// </summary>
public sealed class ValueTable : nn.Module
{
    public Parameter weight; // V [N, Dv]
    readonly BagKernel _bag = new();

    public ValueTable(long rows, int dim)
        : base(nameof(ValueTable))
    {
        weight = new Parameter(empty(rows, dim));
        RegisterComponents();
        Sparse = new RowSparseGradient(weight);
    }

    public RowSparseGradient Sparse { get; }
    public long Rows => weight.shape[0];
    public long Dim => weight.shape[1];

    /// <summary>
    /// This table's optimizer group settings: the value learning rate (κ → 1, or fixed), or null to train it like every other
    /// weight. Set by the layer that owns the table; the trainer finds tables by type (<see cref="OwnedBy"/>), so a new
    /// sparse layer gets value-lr groups and row-sparse training by holding <see cref="ValueTable"/>s.
    /// </summary>
    public ValueGroup? Group { get; set; }

    /// <summary>The value tables in the module tree of <paramref name="root"/> (so each exactly once), by module path, in registration
    /// order.</summary>
    public static IEnumerable<(string Name, ValueTable Table)> OwnedBy(nn.Module root) =>
        root.named_modules().Where(m => m.module is ValueTable).Select(m => (m.name, (ValueTable)m.module));

    /// <summary>
    /// o[t, g] = Σ_{s : group[t,s] = g} [ w[t,s,0]·V[row[t,s]][chunk 0] ; … ; w[t,s,h−1]·V[row[t,s]][chunk h−1] ].
    /// rows, groups [T, S] Int64 (groups null when E = 1), weights [T, S, h] → [T, E·Dv].
    /// </summary>
    public Tensor Pool(Tensor rows, Tensor? groups, Tensor weights, int expansion)
    {
        using var scope = NewDisposeScope();
        long n = rows.shape[0],
            s = rows.shape[1],
            h = weights.shape[2],
            dv = Dim;
        (var table, rows) = Source(rows);
        long tableRows = table.shape[0];
        var chunkView = table.view(tableRows * h, dv / h); // row i, chunk c → i·h + c
        var chunk = arange(h, dtype: ScalarType.Int64, device: rows.device);
        Tensor pooled;
        if (groups is null || expansion == 1)
        {
            var idx = (rows.unsqueeze(1) * h + chunk.view(1, h, 1)).view(n * h, s); // bag (t, c) holds S rows
            var w = weights.permute(0, 2, 1).reshape(n * h, s);
            pooled = _bag.Sum(chunkView, idx, null, w).view(n, dv);
        }
        else
        {
            var token = arange(n, dtype: ScalarType.Int64, device: rows.device).view(n, 1, 1);
            var bagId = ((token * expansion + groups.unsqueeze(2)) * h + chunk.view(1, 1, h)).flatten(); // [(t, s, c)]
            var (sortedId, order) = bagId.sort();
            var idx = (rows.unsqueeze(2) * h + chunk.view(1, 1, h)).flatten().index_select(0, order);
            var w = weights.flatten().index_select(0, order);
            var counts = sortedId.bincount(null, n * expansion * h);
            var offsets = counts.cumsum(0) - counts;
            pooled = _bag.Sum(chunkView, idx, offsets, w).view(n, expansion * dv);
        }
        return pooled.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The rows themselves: rows [..] Int64 → [.., Dv] (UltraMemV2's pre-values, which are dotted with a per-token vector
    /// rather than summed). Row-sparse in training like <see cref="Pool"/>.
    /// </summary>
    public Tensor Lookup(Tensor rows)
    {
        using var scope = NewDisposeScope();
        var (table, idx) = Source(rows);
        var shape = rows.shape.Append(Dim).ToArray();
        return table.index_select(0, idx.flatten()).view(shape).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// What a lookup of <paramref name="rows"/> reads: the table itself, or — in row-sparse training — a gathered leaf copy
    /// of the distinct rows, with the rows renumbered into it (same shape).
    /// </summary>
    (Tensor Table, Tensor Rows) Source(Tensor rows)
    {
        if (!(Sparse.Enabled && training && is_grad_enabled()))
            return (weight, rows);
        var (uniq, inverse, _) = unique(rows.flatten(), sorted: true, return_inverse: true);
        return (Sparse.Gather(uniq), inverse!.view(rows.shape));
    }

    /// <summary>Holds the EmbeddingBag kernel outside the module tree (its weight is swapped per call).</summary>
    sealed class BagKernel
    {
        readonly EmbeddingBag _bag = nn.EmbeddingBag(1, 1, mode: EmbeddingBagMode.Sum);

        public Tensor Sum(Tensor table, Tensor input, Tensor? offsets, Tensor weights)
        {
            // new Parameter(t) takes over t's handle and keeps its autograd identity, so pass a fresh alias.
            using var p = new Parameter(table.alias(), table.requires_grad);
            _bag.weight = p;
            return _bag.forward(input, offsets, weights.to(table.dtype));
        }
    }
}
