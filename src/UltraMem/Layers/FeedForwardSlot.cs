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

    /// <summary>Diagnostics accumulated since the last call (e.g. value coverage); cleared when <paramref name="reset"/>.</summary>
    public virtual IReadOnlyDictionary<string, double> Diagnostics(bool reset) => new Dictionary<string, double>();
}
