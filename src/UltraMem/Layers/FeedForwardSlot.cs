using static TorchSharp.torch;

namespace UltraMem.Layers;

/// <summary>Parameter and compute accounting of one component, per token.</summary>
/// <param name="Total">All parameters.</param>
/// <param name="Activated">Parameters a single token reads (e.g. the m selected value rows of a memory).</param>
/// <param name="FlopsPerToken">Multiply-adds × 2 per token (matmuls and weighted lookups).</param>
public readonly record struct ParameterCount(long Total, long Activated, long FlopsPerToken)
{
    public static ParameterCount operator +(ParameterCount a, ParameterCount b) =>
        new(a.Total + b.Total, a.Activated + b.Activated, a.FlopsPerToken + b.FlopsPerToken);
    /// <summary>A dense linear map in → out: every weight is read by every token.</summary>
    public static ParameterCount Dense(long inDim, long outDim) => new(inDim * outDim, inDim * outDim, 2 * inDim * outDim);
}

/// <summary>
/// Value-table parameters with their learning-rate multiplier κ → 1 (spec §3.6), or a constant learning rate
/// <paramref name="FixedLearningRate"/> outside the schedule (Memory+).
/// </summary>
public sealed record ValueGroup(IReadOnlyList<string> Parameters, double Kappa, long? DecaySteps, double? FixedLearningRate = null);

/// <summary>
/// Rows of one sparse table that the last forward pass read (issue 5's bytes-read count): <paramref name="RowsRead"/> distinct
/// rows of <paramref name="TableRows"/>, each <paramref name="RowParameters"/> parameters wide. A MoE layer's "rows" are its
/// experts (each read whole); a memory layer's are value rows.
/// </summary>
public sealed record SparseRead(string Table, long RowsRead, long TableRows, long RowParameters)
{
    public long ParametersRead => RowsRead * RowParameters;
    public long TableParameters => TableRows * RowParameters;
}

/// <summary>The distinct entries of an index tensor of the last forward pass, kept outside the module tree (not a buffer) and counted on demand.</summary>
public sealed class LastIndices : IDisposable
{
    Tensor? _indices;

    public void Set(Tensor indices)
    {
        _indices?.Dispose();
        _indices = indices.detach().DetachFromDisposeScope();
    }

    /// <summary>Distinct values among the kept indices; 0 before the first forward pass.</summary>
    public long Distinct()
    {
        if (_indices is null) return 0;
        using var scope = NewDisposeScope();
        var (u, _, _) = unique(_indices.flatten(), sorted: false);
        return u.shape[0];
    }

    public void Dispose() { _indices?.Dispose(); _indices = null; }
}

/// <summary>Per-slot state carried across decoding steps (e.g. a causal convolution's tail).</summary>
public sealed class SlotState : IDisposable
{
    public Dictionary<string, Tensor> Tensors { get; } = new();
    public void Dispose() { foreach (var t in Tensors.Values) t.Dispose(); Tensors.Clear(); }
}

/// <summary>
/// Anything that maps the normalised hidden state x [B, T, D] to an update [B, T, D] of the residual stream:
/// the block FFN, and the layers plugged in through <see cref="Model.SlotPlacement"/> (memory layers, MoE).
/// </summary>
public abstract class FeedForwardSlot : nn.Module<Tensor, Tensor>
{
    protected FeedForwardSlot(string name) : base(name) { }

    /// <summary>Collect usage diagnostics (value coverage, expert load) in forward passes; on by default, benchmarks switch it off.</summary>
    public bool TrackUsage { get; set; } = true;

    /// <summary>Incremental decoding: x holds only the new positions; slots with sequence state override this.</summary>
    public virtual Tensor Step(Tensor x, SlotState state) => forward(x);

    /// <summary>Auxiliary loss of the last forward pass (e.g. load balancing), or null.</summary>
    public virtual Tensor? AuxiliaryLoss => null;

    /// <summary>Total and per-token activated parameters and FLOPs.</summary>
    public abstract ParameterCount Count();

    /// <summary>Tables trained row-sparsely when enabled (local parameter name → its gradient collector).</summary>
    public virtual IEnumerable<(string Name, Memory.RowSparseGradient Gradient)> RowSparseTables() => Array.Empty<(string, Memory.RowSparseGradient)>();

    /// <summary>
    /// Parameters (local names) that get their own optimizer group with a learning-rate multiplier decaying
    /// linearly from <c>Kappa</c> to 1 over <c>DecaySteps</c> (null: the whole run) — UltraMem's value lr decay.
    /// </summary>
    public virtual IEnumerable<ValueGroup> ValueGroups() => Array.Empty<ValueGroup>();

    /// <summary>Called by the trainer after every optimizer step (e.g. to refresh TDQKR's coarse vectors from the updated cores).</summary>
    public virtual void AfterOptimizerStep() { }

    /// <summary>Re-initialises this layer's parameters after the model's generic init (layers with their own init scheme).</summary>
    public virtual void InitializeParameters(Model.ModelConfig model) { }

    /// <summary>
    /// The rows of this slot's sparse tables (value tables, experts) read by the last forward pass; empty for a dense slot,
    /// whose every weight is read. A table shared by several layers is reported by each reader.
    /// </summary>
    public virtual IEnumerable<SparseRead> LastSparseReads() => Array.Empty<SparseRead>();

    /// <summary>Diagnostics accumulated since the last call (e.g. value coverage); cleared when <paramref name="reset"/>.</summary>
    public virtual IReadOnlyDictionary<string, double> Diagnostics(bool reset) => new Dictionary<string, double>();
}
