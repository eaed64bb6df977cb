using static TorchSharp.torch;

namespace UltraMem.Layers.Memory;

/// <summary>
/// One value table (and pre-value table) read by several memory layers (UltraMemV2 arXiv:2508.18756, Memory+ arXiv:2412.09764):
/// <list type="bullet">
/// <item>Memory+ — every memory layer reads the whole table (window offset 0, window = table);</item>
/// <item>UltraMemV2's ring — a global table of n²·L_m rows; layer ℓ reads the n_w² rows starting at ℓ·n², wrapping
/// around the end, so neighbouring layers overlap when the share ratio n_w²/(n²·L_m) exceeds 1/L_m.</item>
/// </list>
/// Owned by the model (state-dict names <c>shared_memory.values.weight</c>, <c>shared_memory.pre_values.weight</c>);
/// the layers hold a reference outside the module tree, so the table is saved, counted and optimised once.
/// </summary>
public sealed class SharedMemory : nn.Module
{
    public ValueTable values;
    public ValueTable? pre_values;

    /// <param name="learningRate">The tables' optimizer settings (one group for the shared tables; its readers must agree).</param>
    public SharedMemory(long rows, int valueDim, int preValueDim, ValueGroup? learningRate = null)
        : base(nameof(SharedMemory))
    {
        values = new ValueTable(rows, valueDim) { Group = learningRate };
        if (preValueDim > 0)
            pre_values = new ValueTable(rows, preValueDim) { Group = learningRate };
        RegisterComponents();
    }

    public long Rows => values.Rows;

    /// <summary>Window rows p ∈ [0, n_w²) of a layer starting at <paramref name="offset"/> → shared rows (offset + p) mod G.</summary>
    public static Tensor WindowRows(Tensor rows, long offset, long sharedRows) => (rows + offset).remainder(sharedRows);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            values.Sparse.Dispose();
            pre_values?.Sparse.Dispose();
        }
        base.Dispose(disposing);
    }
}
