using UltraMem.Layers.Memory;
using static TorchSharp.torch;

namespace UltraMem.Layers;

/// <summary>
/// Anything that maps the normalised hidden state x [B, T, D] to an update [B, T, D] of the residual stream:
/// the block FFN, and the layers a model plugs in (memory layers, MoE, PEER). Each kind of slot is described by a
/// <see cref="SlotKind"/> (defaults, accounting, description, sparse reads), which builds it.
/// </summary>
public abstract class FeedForwardSlot : nn.Module<Tensor, Tensor>
{
    protected FeedForwardSlot(string name)
        : base(name) { }

    /// <summary>Collect usage diagnostics (value coverage, expert load) in forward passes; on by default, benchmarks switch it
    /// off.</summary>
    public bool TrackUsage { get; set; } = true;

    /// <summary>Incremental decoding: x holds only the new positions; slots with sequence state override this.</summary>
    public virtual Tensor Step(Tensor x, SlotState state) => forward(x);

    /// <summary>Auxiliary loss of the last forward pass (e.g. load balancing), or null.</summary>
    public virtual Tensor? AuxiliaryLoss => null;

    /// <summary>Total and per-token activated parameters and FLOPs.</summary>
    public abstract ParameterCount Count();

    /// <summary>
    /// The <see cref="ValueTable"/>s this slot owns, by local parameter name (e.g. <c>values.weight</c>), found by type:
    /// each can train row-sparsely and carries its own learning-rate settings. A table read from the model's shared
    /// memory is not owned (the model lists it once).
    /// </summary>
    public IEnumerable<(string Name, RowSparseGradient Gradient)> RowSparseTables() =>
        ValueTable.OwnedBy(this).Select(t => (t.Name + ".weight", t.Table.Sparse));

    /// <summary>Called by the trainer after every optimizer step (e.g. to refresh TDQKR's coarse vectors from the updated cores).</summary>
    public virtual void AfterOptimizerStep() { }

    /// <summary>
    /// Re-initialises this layer's parameters after the model's generic init (layers with their own init scheme);
    /// <paramref name="model"/> null: a layer built alone (<see cref="SlotContext.Standalone"/>).
    /// </summary>
    public virtual void InitializeParameters(SlotContext? model) { }

    /// <summary>
    /// The rows of this slot's sparse tables (value tables, experts) read by the last forward pass; empty for a dense slot,
    /// whose every weight is read. A table shared by several layers is reported by each reader.
    /// </summary>
    public virtual IEnumerable<SparseRead> LastSparseReads() => Array.Empty<SparseRead>();

    /// <summary>Diagnostics accumulated since the last call (e.g. value coverage); cleared when <paramref name="reset"/>.</summary>
    public virtual IReadOnlyDictionary<string, double> Diagnostics(bool reset) => new Dictionary<string, double>();
}
