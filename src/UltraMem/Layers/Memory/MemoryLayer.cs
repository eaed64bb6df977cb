using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UltraMem.Layers.Memory;

/// <summary>
/// A product-key memory layer, from PKM (Lample et al. 2019) through UltraMem (Huang et al. 2025) to UltraMemV2 and
/// Memory+, one switch per change (<see cref="MemoryConfig"/>). A token x [D] flows:
/// <code>
/// x ─[query_conv]─ query_proj ─ norm ─▶ q [Hq, Q, Dk] ─(share_query: head 2i, 2i+1 ← query i)─▶ q [H, Q, Dk]   (Q = r with query_per_rank)
///   q_row, q_col = halves ─[qk_norm]─▶ S_row, S_col = ⟨q_row, K_row⟩, ⟨q_col, K_col⟩      [H, r, n']
///   product keys: top-m of s_row + s_col          |  TDQKR: coarse by u, t → exact Σ_c S_rowᵀ C_c S_col → top-m
///   scores [H, m, h] ─[softmax]─▶ weights;  addresses ─[IVE π]─▶ (group g, row p) ─[shared table: (offset + p) mod G]─▶ row
///   [pre-values: weights ×= a_i = ⟨W_pre x, P[row_i]⟩ (GELU optional)]
///   pooled[g] = Σ weights · V[row] (MCS: chunk c by core c; single projector: one group) ─[⊙ SiLU(W_s x)]─ value_proj ─▶ o [D]
/// </code>
/// Only H·m value rows are read per token, whatever N is.
/// </summary>
public sealed class MemoryLayer : FeedForwardSlot
{
    public QueryNetwork query;
    public ProductKeys keys;
    public TuckerRetrieval? tucker;
    public ImplicitValueExpansion? ive;
    public ValueTable? values; // null when the layer reads the model's shared table
    public ValueTable? pre_values; // P [N, Dp] (UltraMemV2), own table only
    public Linear? pre_value_proj; // W_pre: D → Dp
    public Linear? gate_proj; // W_s: D → Dv (Memory+ output gate)
    public Linear? value_proj;

    readonly ValueUsageStats _stats;
    readonly LastIndices _lastRows = new();
    readonly Tables _tables;
    readonly int _dModel;

    public MemoryConfig Options { get; }

    /// <param name="shared">The model's shared table; required when <c>shared_values</c> is set, ignored otherwise.</param>
    public MemoryLayer(int dModel, MemoryConfig config, SharedMemory? shared = null)
        : base(nameof(MemoryLayer))
    {
        Options = config.Validate(dModel);
        _dModel = dModel;
        query = new QueryNetwork(dModel, config);
        keys = new ProductKeys(config);
        if (config.IsTucker)
            tucker = new TuckerRetrieval(config);
        if (config.Expansion > 1)
            ive = new ImplicitValueExpansion(config);
        int dv = config.ValueDimResolved(dModel),
            dp = config.PreValueDimResolved;
        if (config.SharedValues)
        {
            if (shared is null)
                throw new UltraMemException("memory layer with shared_values needs the model's shared table (shared_value_rows)");
            if (shared.values.Dim != dv || (shared.pre_values?.Dim ?? 0) != dp)
                throw new UltraMemException(
                    $"memory layer (Dv {dv}, Dp {dp}) does not fit the shared table (Dv {shared.values.Dim}, Dp {shared.pre_values?.Dim ?? 0})"
                );
            _tables = new Tables(shared.values, shared.pre_values, config.SharedOffset, shared.Rows);
        }
        else
        {
            var lr = new ValueGroup(config.ValueLrMultiplier, config.ValueLrDecaySteps, config.ValueLr);
            values = new ValueTable(config.Rows, dv) { Group = lr };
            if (dp > 0)
                pre_values = new ValueTable(config.Rows, dp) { Group = lr };
            _tables = new Tables(values, pre_values, 0, null);
        }
        if (dp > 0)
            pre_value_proj = nn.Linear(dModel, dp, hasBias: false);
        if (config.OutputGate)
            gate_proj = nn.Linear(dModel, dv, hasBias: false);
        if (config.HasProjection(dModel))
            value_proj = nn.Linear(config.PooledDim(dModel), dModel, hasBias: false);
        _stats = new ValueUsageStats(_tables.Values.Rows);
        RegisterComponents();
        InitializeParameters(null);
    }

    /// <summary>The value table this layer reads (its own, or the model's shared one).</summary>
    public ValueTable Values => _tables.Values;

    /// <summary>The pre-value table this layer reads, if any.</summary>
    public ValueTable? PreValues => _tables.PreValues;

    public override Tensor forward(Tensor x) => Forward(x, null);

    public override Tensor Step(Tensor x, SlotState state) => Forward(x, state);

    Tensor Forward(Tensor x, SlotState? state)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0],
            t = x.shape[1],
            n = b * t;
        var c = Options;
        using var sel = Retrieve(x, state);
        var (group, row) = TableRows(sel.Addresses);
        _lastRows.Set(row);
        long s = (long)c.Heads * c.TopM;
        var softmax = c.Softmax ? sel.Scores.softmax(2) : null; // over each head's m, per core   [N, H, m, h]
        var weights = (softmax ?? sel.Scores).reshape(n, s, c.Cores);
        var xf = x.reshape(n, _dModel);
        if (pre_value_proj is not null && _tables.PreValues is { } pre)
        {
            var p = pre.Lookup(row.view(n, s)); // P[row_i]   [n, s, Dp]
            var a = p.bmm(pre_value_proj.forward(xf).unsqueeze(2)).squeeze(2); // a_i = ⟨W_pre x, P[i]⟩   [n, s]
            if (c.PreValueActivation == PreValueActivation.Gelu)
                a = nn.functional.gelu(a);
            weights = weights * a.unsqueeze(2);
        }
        bool grouped = group is not null && !c.SingleProjector;
        var pooled = _tables.Values.Pool(row.view(n, s), grouped ? group!.view(n, s) : null, weights, grouped ? c.Expansion : 1);
        if (gate_proj is not null)
            pooled = pooled * nn.functional.silu(gate_proj.forward(xf)); // m(x) ⊙ SiLU(W_s x)
        var o = value_proj is null ? pooled : value_proj.forward(pooled);
        if (TrackUsage)
            _stats.Record(row, sel.Scores, o, softmax);
        return o.view(b, t, _dModel).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Distinct value rows the last forward pass read (IVE's virtual values share a physical row); the pre-value table,
    /// if any, is read at the same rows. A shared table is reported by each layer reading it.
    /// </summary>
    public override IEnumerable<SparseRead> LastSparseReads()
    {
        long rows = _lastRows.Distinct();
        string prefix = values is null ? "shared_memory." : "";
        yield return new SparseRead(prefix + "values", rows, _tables.Values.Rows, _tables.Values.Dim);
        if (_tables.PreValues is { } pre && pre_value_proj is not null)
            yield return new SparseRead(prefix + "pre_values", rows, pre.Rows, pre.Dim);
    }

    /// <summary>Selected (virtual) addresses → (IVE group or null, row of the table this layer reads).</summary>
    public (Tensor? Group, Tensor Row) TableRows(Tensor addresses)
    {
        using var scope = NewDisposeScope();
        Tensor? group = null;
        var row = addresses;
        if (ive is not null)
            (group, row) = ive.Map(addresses);
        if (_tables.SharedRows is { } g)
            row = SharedMemory.WindowRows(row, _tables.Offset, g);
        return (group?.MoveToOuterDisposeScope(), row.MoveToOuterDisposeScope());
    }

    /// <summary>Query → scores → top-m: the retrieval part alone (addresses are virtual when IVE is on).</summary>
    public Selection Retrieve(Tensor x, SlotState? state = null)
    {
        using var scope = NewDisposeScope();
        var q = query.Forward(x, state); // [N, Hq·Q, Dk]
        if (Options.QueryPerRank)
            q = q.view(q.shape[0], Options.QueryHeads, Options.Rank, Options.KeyDim); // [N, Hq, r, Dk]
        if (Options.ShareQuery)
            q = q.repeat_interleave(2, dim: 1); // [N, H, (r,) Dk]
        var (sRow, sCol) = keys.Scores(q); // [H, N, r, n']
        var sel = tucker is null ? ProductKeyRetrieval.Select(sRow, sCol, Options.TopM) : tucker.Select(sRow, sCol, Options.TopM);
        if (tucker is not null && TrackUsage && !training && state is null && Options.CoarseSearch != CoarseSearch.Exact)
        {
            // evaluation passes only (not training, not decode steps): the exact top-m costs n'² scores per token and head, so
            // a bounded number of tokens (≤ 16M scores)
            long keys = sRow.shape[^1];
            long tokens = Math.Clamp((1L << 24) / Math.Max(1, Options.Heads * Options.Cores * keys * keys), 1, 256);
            _stats.RecordRecall(tucker.Recall(sRow, sCol, sel.Addresses, tokens), Math.Min(tokens, sRow.shape[1]));
        }
        return new Selection(sel.Scores.MoveToOuterDisposeScope(), sel.Addresses.MoveToOuterDisposeScope());
    }

    /// <summary>One line with the layer's shape, in the paper's symbols.</summary>
    public string Describe() => MemoryKind.Describe(Options, _dModel, _tables.SharedRows);

    public override Tensor? AuxiliaryLoss =>
        Options.TuckerAuxLoss && tucker is not null && training ? tucker.AuxiliaryLoss(Options.TuckerAuxTau, Options.TuckerAuxAlpha) : null;

    public override void AfterOptimizerStep() => tucker?.RefreshCoarseVectors();

    public override ParameterCount Count() => MemoryAccounting.Count(Options, _dModel);

    /// <summary>The config-only accounting of a layer like <paramref name="c"/> (<see cref="MemoryAccounting.Count"/>).</summary>
    public static ParameterCount Accounting(MemoryConfig c, int dModel) => MemoryAccounting.Count(c, dModel);

    /// <summary>Re-draws every parameter by the layer's <c>init</c> scheme (<see cref="MemoryInit"/>).</summary>
    public override void InitializeParameters(SlotContext? model) => MemoryInit.Initialize(this, model ?? SlotContext.Standalone(_dModel));

    /// <summary>σ_V of this layer's init scheme in <paramref name="model"/> (<see cref="MemoryInit.ValueStd"/>).</summary>
    public double ValueInitStd(SlotContext? model) => MemoryInit.ValueStd(this, model ?? SlotContext.Standalone(_dModel));

    /// <summary>D, the width of the residual stream this layer reads and writes.</summary>
    public int DModel => _dModel;

    /// <summary>Whether this layer reads its own tables (false: a window of the model's shared table).</summary>
    public bool OwnsTables => values is not null;

    public override IReadOnlyDictionary<string, double> Diagnostics(bool reset)
    {
        var d = _stats.Summary();
        if (tucker is not null)
        {
            using var sv = tucker.SingularValues(); // [H, r]
            d["lambda1"] = sv.select(1, 0).mean().item<double>();
            if (Options.Rank > 1)
            {
                d["lambda2"] = sv.select(1, 1).mean().item<double>();
                d["lambda1_over_lambda2"] = (sv.select(1, 0) / sv.select(1, 1).clamp_min(1e-12)).mean().item<double>();
            }
        }
        if (reset)
            _stats.Reset();
        return d;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stats.Dispose();
            _lastRows.Dispose();
            values?.Sparse.Dispose();
            pre_values?.Sparse.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>The tables a layer reads: its own, or a window of the model's shared ones (kept outside the module tree).</summary>
    sealed record Tables(ValueTable Values, ValueTable? PreValues, long Offset, long? SharedRows);
}
