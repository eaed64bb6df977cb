using TorchSharp.Modules;
using UltraMem.Model;
using static TorchSharp.torch;

namespace UltraMem.Layers.Memory;

/// <summary>
/// A product-key memory layer, from PKM (Lample et al. 2019) through UltraMem (Huang et al. 2025) to UltraMemV2 and
/// Memory+, one switch per change (<see cref="MemoryConfig"/>). A token x [D] flows:
/// <code>
///   x ─[query_conv]─ query_proj ─ norm ─▶ q [Hq, Q, Dk] ─(share_query: head 2i, 2i+1 ← query i)─▶ q [H, Q, Dk]   (Q = r with query_per_rank)
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
    public ValueTable? values;             // null when the layer reads the model's shared table
    public ValueTable? pre_values;         // P [N, Dp] (UltraMemV2), own table only
    public Linear? pre_value_proj;         // W_pre: D → Dp
    public Linear? gate_proj;              // W_s: D → Dv (Memory+ output gate)
    public Linear? value_proj;

    readonly UsageStats _stats;
    readonly LastIndices _lastRows = new();
    readonly Tables _tables;
    readonly int _dModel;

    public MemoryConfig Options { get; }

    /// <param name="shared">The model's shared table; required when <c>shared_values</c> is set, ignored otherwise.</param>
    public MemoryLayer(int dModel, MemoryConfig config, SharedMemory? shared = null) : base(nameof(MemoryLayer))
    {
        Options = config.Validate(dModel);
        _dModel = dModel;
        query = new QueryNetwork(dModel, config);
        keys = new ProductKeys(config);
        if (config.IsTucker) tucker = new TuckerRetrieval(config);
        if (config.Expansion > 1) ive = new ImplicitValueExpansion(config);
        int dv = config.ValueDimResolved(dModel), dp = config.PreValueDimResolved;
        if (config.SharedValues)
        {
            if (shared is null) throw new UltraMemException("memory layer with shared_values needs the model's shared table (shared_value_rows)");
            if (shared.values.Dim != dv || (shared.pre_values?.Dim ?? 0) != dp)
                throw new UltraMemException($"memory layer (Dv {dv}, Dp {dp}) does not fit the shared table (Dv {shared.values.Dim}, Dp {shared.pre_values?.Dim ?? 0})");
            _tables = new Tables(shared.values, shared.pre_values, config.SharedOffset, shared.Rows);
        }
        else
        {
            values = new ValueTable(config.Rows, dv);
            if (dp > 0) pre_values = new ValueTable(config.Rows, dp);
            _tables = new Tables(values, pre_values, 0, null);
        }
        if (dp > 0) pre_value_proj = nn.Linear(dModel, dp, hasBias: false);
        if (config.OutputGate) gate_proj = nn.Linear(dModel, dv, hasBias: false);
        if (config.HasProjection(dModel)) value_proj = nn.Linear(config.PooledDim(dModel), dModel, hasBias: false);
        _stats = new UsageStats(_tables.Values.Rows);
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
        long b = x.shape[0], t = x.shape[1], n = b * t;
        var c = Options;
        using var sel = Retrieve(x, state);
        var (group, row) = TableRows(sel.Addresses);
        _lastRows.Set(row);
        long s = (long)c.Heads * c.TopM;
        var weights = (c.Softmax ? sel.Scores.softmax(2) : sel.Scores).reshape(n, s, c.Cores);   // softmax over each head's m
        var xf = x.reshape(n, _dModel);
        if (pre_value_proj is not null && _tables.PreValues is { } pre)
        {
            var p = pre.Lookup(row.view(n, s));                                           // P[row_i]   [n, s, Dp]
            var a = p.bmm(pre_value_proj.forward(xf).unsqueeze(2)).squeeze(2);            // a_i = ⟨W_pre x, P[i]⟩   [n, s]
            if (c.PreValueActivation == "gelu") a = nn.functional.gelu(a);
            weights = weights * a.unsqueeze(2);
        }
        bool grouped = group is not null && !c.SingleProjector;
        var pooled = _tables.Values.Pool(row.view(n, s), grouped ? group!.view(n, s) : null, weights, grouped ? c.Expansion : 1);
        if (gate_proj is not null) pooled = pooled * nn.functional.silu(gate_proj.forward(xf));  // m(x) ⊙ SiLU(W_s x)
        var o = value_proj is null ? pooled : value_proj.forward(pooled);
        if (TrackUsage) _stats.Record(row, sel.Scores, o);
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
        if (_tables.PreValues is { } pre && pre_value_proj is not null) yield return new SparseRead(prefix + "pre_values", rows, pre.Rows, pre.Dim);
    }

    /// <summary>Selected (virtual) addresses → (IVE group or null, row of the table this layer reads).</summary>
    public (Tensor? Group, Tensor Row) TableRows(Tensor addresses)
    {
        using var scope = NewDisposeScope();
        Tensor? group = null; var row = addresses;
        if (ive is not null) (group, row) = ive.Map(addresses);
        if (_tables.SharedRows is { } g) row = SharedMemory.WindowRows(row, _tables.Offset, g);
        return (group?.MoveToOuterDisposeScope(), row.MoveToOuterDisposeScope());
    }

    /// <summary>Query → scores → top-m: the retrieval part alone (addresses are virtual when IVE is on).</summary>
    public Selection Retrieve(Tensor x, SlotState? state = null)
    {
        using var scope = NewDisposeScope();
        var q = query.Forward(x, state);                                                  // [N, Hq·Q, Dk]
        if (Options.QueryPerRank) q = q.view(q.shape[0], Options.QueryHeads, Options.Rank, Options.KeyDim);   // [N, Hq, r, Dk]
        if (Options.ShareQuery) q = q.repeat_interleave(2, dim: 1);                        // [N, H, (r,) Dk]
        var (sRow, sCol) = keys.Scores(q);                                                // [H, N, r, n']
        var sel = tucker is null ? ProductKeyRetrieval.Select(sRow, sCol, Options.TopM) : tucker.Select(sRow, sCol, Options.TopM);
        return new Selection(sel.Scores.MoveToOuterDisposeScope(), sel.Addresses.MoveToOuterDisposeScope());
    }

    /// <summary>One line with the layer's shape, in the paper's symbols.</summary>
    public string Describe() => Describe(Options, _dModel, _tables.SharedRows);

    /// <summary>One line with the shape of a layer with config <paramref name="c"/> (no layer built); <paramref name="sharedRows"/>: the shared table's size.</summary>
    public static string Describe(MemoryConfig c, int dModel, long? sharedRows)
    {
        string retrieval = c.IsTucker ? $"TDQKR r={c.Rank} h={c.Cores} coarse {c.CoarseTopResolved}" + (c.TuckerAuxLoss ? " +aux" : "") : "product keys";
        var parts = new List<string>
        {
            $"N={c.Rows:N0} values x Dv={c.ValueDimResolved(dModel)} (n={c.NKeys}" + (c.Expansion > 1 ? $", E={c.Expansion} -> {c.VirtualKeys} keys/side, {c.Rows * c.Expansion:N0} virtual" : "") + ")",
            $"H={c.Heads} x m={c.TopM}", $"Dk={c.KeyDim}", retrieval, c.Softmax ? "softmax" : "raw scores",
        };
        if (c.SharedValues) parts.Add($"shared table rows [{c.SharedOffset:N0}, +{c.Rows:N0}) of {sharedRows:N0}");
        if (c.QueryPerRank) parts.Add("query per rank");
        if (c.PreValueDim is { } dp) parts.Add($"pre-values Dp={dp}" + (c.PreValueActivation == "none" ? "" : $" {c.PreValueActivation}"));
        if (c.OutputGate) parts.Add("SiLU output gate");
        if (c.HasProjection(dModel)) parts.Add(c.SingleProjector && c.Expansion > 1 ? "single value_proj" : "value_proj");
        if (c.ShareQuery) parts.Add("shared query");
        if (c.QkNorm) parts.Add("qk-norm");
        if (c.QueryConv) parts.Add($"query conv k={c.QueryConvKernel}");
        parts.Add($"query {c.QueryNorm}");
        parts.Add($"init {c.Init}");
        if (c.ValueLr is { } lr) parts.Add($"value lr fixed {lr:G3}");
        else if (c.ValueLrMultiplier != 1) parts.Add($"value lr x{c.ValueLrMultiplier}->1");
        return string.Join(", ", parts);
    }

    public override Tensor? AuxiliaryLoss =>
        Options.TuckerAuxLoss && tucker is not null && training ? tucker.AuxiliaryLoss(Options.TuckerAuxTau, Options.TuckerAuxAlpha) : null;

    /// <summary>Own tables only: a shared table is listed once, by the model.</summary>
    public override IEnumerable<(string Name, RowSparseGradient Gradient)> RowSparseTables()
    {
        if (values is not null) yield return ("values.weight", values.Sparse);
        if (pre_values is not null) yield return ("pre_values.weight", pre_values.Sparse);
    }

    public override IEnumerable<ValueGroup> ValueGroups()
    {
        if (values is null) yield break;
        var names = pre_values is null ? new[] { "values.weight" } : new[] { "values.weight", "pre_values.weight" };
        yield return new ValueGroup(names, Options.ValueLrMultiplier, Options.ValueLrDecaySteps, Options.ValueLr);
    }

    public override void AfterOptimizerStep() => tucker?.RefreshCoarseVectors();

    public override ParameterCount Count() => Accounting(Options, _dModel);

    /// <summary>
    /// Total parameters, parameters read per token (everything but the tables, plus the H·m selected rows of values
    /// and pre-values) and forward FLOPs per token of a layer with config <paramref name="c"/>, from the config alone
    /// (no table allocated). A shared table is not in the total (the model counts it once, see <see cref="SharedTableParameters"/>).
    /// </summary>
    public static ParameterCount Accounting(MemoryConfig c, int dModel)
    {
        long d = dModel, hq = c.QueryHeads, q = c.QueriesPerHead, dk = c.KeyDim, h = c.Heads, keysPerSide = c.VirtualKeys, r = c.Rank, m = c.TopM;
        long dv = c.ValueDimResolved(dModel), dp = c.PreValueDimResolved, cores = c.Cores, mc = c.CoarseTopResolved, pooled = c.PooledDim(dModel);
        long dense = 0;
        if (c.QueryConv) dense += d * c.QueryConvKernel;
        dense += d * hq * q * dk + hq * q * dk;                   // query projection (with bias)
        if (c.QueryNorm != "none") dense += 2 * hq * q * dk;      // norm weight and bias
        dense += h * r * keysPerSide * dk;                        // row and column keys, Dk/2 each
        if (c.QkNorm) dense += dk;                                // q_norm and k_norm gains, Dk/2 each
        if (c.IsTucker) dense += h * cores * r * r;
        if (dp > 0) dense += d * dp;                              // W_pre
        if (c.OutputGate) dense += d * dv;                        // W_s
        if (c.HasProjection(dModel)) dense += pooled * d;
        long total = dense + (c.SharedValues ? 0 : c.Rows * (dv + dp));
        long activated = dense + h * m * (dv + dp);               // every token reads all dense parts and its H·m rows
        long flops = 0;
        if (c.QueryConv) flops += 2 * d * c.QueryConvKernel;
        flops += 2 * d * hq * q * dk;                             // query projection
        flops += 2 * h * r * 2 * keysPerSide * (dk / 2);          // S_row, S_col
        if (c.IsTucker)
        {
            flops += 2 * h * 2 * r * keysPerSide;                 // coarse uᵀS_row, tᵀS_col
            flops += 2 * h * cores * (r * r * mc + r * mc * mc);  // exact scores on the m'×m' candidate grid
        }
        else flops += h * m * m;                                  // k×k additive grid
        if (dp > 0) flops += 2 * d * dp + 2 * h * m * dp;         // W_pre x and the H·m dots a_i = ⟨W_pre x, P[i]⟩
        flops += 2 * h * m * dv;                                  // weighted sum of the selected values
        if (c.OutputGate) flops += 2 * d * dv + dv;
        if (c.HasProjection(dModel)) flops += 2 * pooled * d;
        return new ParameterCount(total, activated, flops);
    }

    /// <summary>Parameters of a shared table of <paramref name="rows"/> rows for layers like <paramref name="c"/> (values + pre-values).</summary>
    public static long SharedTableParameters(MemoryConfig c, int dModel, long rows) => rows * (c.ValueDimResolved(dModel) + c.PreValueDimResolved);

    public override IReadOnlyDictionary<string, double> Diagnostics(bool reset)
    {
        var d = _stats.Summary();
        if (tucker is not null)
        {
            using var sv = tucker.SingularValues();                                       // [H, r]
            d["lambda1"] = sv.select(1, 0).mean().item<double>();
            if (Options.Rank > 1)
            {
                d["lambda2"] = sv.select(1, 1).mean().item<double>();
                d["lambda1_over_lambda2"] = (sv.select(1, 0) / sv.select(1, 1).clamp_min(1e-12)).mean().item<double>();
            }
        }
        if (reset) _stats.Reset();
        return d;
    }

    /// <summary>
    /// Initialisation (spec §3.5, §4.4), chosen by <c>init</c>:
    /// <list type="bullet">
    /// <item><c>pkm</c> — Lample et al.: keys U(±1/√(Dk/2)), values N(0, std Dv^−½); query as the model's linears; norm gains 1;</item>
    /// <item><c>reference</c> — the authors' v1 code: q/k-norm gains 1/Dk^0.33, W_q and keys N(0, 1/√Dk), values N(0, 0.02);</item>
    /// <item><c>paper</c> — values N(0, var E/(2·m·H·L)) so the memory output variance matches an FFN's 1/(2L);
    /// query-norm gain 1/√E[Y] (Y: mean of the top-m of n' standard normals, Monte Carlo), key-norm gain 1/√Dk;</item>
    /// <item><c>paper_matched</c> — <c>paper</c>'s query, keys and norm gains, with σ_V solved, as for <c>v2</c>, so that this
    /// layer's output variance equals a freshly initialised FFN's: the aim the paper states, for models whose FFN output
    /// variance is not 1/(2L) (with init_std 0.02 the literal <c>paper</c> values give ≈ 45× the FFN's output std);</item>
    /// <item><c>v2</c> — UltraMemV2: W_q and keys N(0, 1/√(Dk/2)), q/k-norm gains (Dk/2)^−0.4, W_pre N(0, 1/√D),
    /// value_proj N(0, init_std/√(2L)) like the FFN's output layer; values and pre-values σ_V chosen so that this layer's
    /// output variance equals a freshly initialised FFN's, from moments measured by a synthetic pass through the retrieval
    /// (see <see cref="ValueInitStd"/>);</item>
    /// <item><c>v2_paper</c> — the same, with σ_V from the paper's printed formula read as σ_V⁴ (spec §4.4).</item>
    /// </list>
    /// Otherwise: value_proj N(0, 1/√pooled width); W_pre N(0, 1/√D); W_s as the model's linears; Tucker cores U(0, 1);
    /// query conv the identity. Shared tables are initialised once by the model (<see cref="InitializeTables"/>).
    /// </summary>
    public override void InitializeParameters(ModelConfig? model)
    {
        using var _ = no_grad();
        var c = Options;
        double dk = c.KeyDim, half = c.KeyDim / 2.0;
        double initStd = model?.InitStd ?? 0.02;
        query.query_conv?.ResetToIdentity();
        nn.init.zeros_(query.query_proj.bias!);
        if (value_proj is not null) nn.init.normal_(value_proj.weight!, 0, ValueProjectionStd(model));
        if (pre_value_proj is not null) nn.init.normal_(pre_value_proj.weight!, 0, 1 / Math.Sqrt(_dModel));
        if (gate_proj is not null) nn.init.normal_(gate_proj.weight!, 0, initStd);
        tucker?.tucker_cores.uniform_(0, 1);
        tucker?.RefreshCoarseVectors(keepSign: false);
        double qGain = 1, kGain = 1;
        switch (c.Init)
        {
            case "pkm":
                nn.init.normal_(query.query_proj.weight!, 0, initStd);
                keys.row_keys.uniform_(-1 / Math.Sqrt(half), 1 / Math.Sqrt(half));
                keys.col_keys.uniform_(-1 / Math.Sqrt(half), 1 / Math.Sqrt(half));
                break;
            case "reference":
                nn.init.normal_(query.query_proj.weight!, 0, 1 / Math.Sqrt(dk));
                nn.init.normal_(keys.row_keys, 0, 1 / Math.Sqrt(dk));
                nn.init.normal_(keys.col_keys, 0, 1 / Math.Sqrt(dk));
                qGain = kGain = Math.Pow(dk, -0.33);
                break;
            case "paper" or "paper_matched":
                nn.init.normal_(query.query_proj.weight!, 0, 1 / Math.Sqrt(dk));
                nn.init.normal_(keys.row_keys, 0, 1 / Math.Sqrt(dk));
                nn.init.normal_(keys.col_keys, 0, 1 / Math.Sqrt(dk));
                qGain = 1 / Math.Sqrt(MeanTopOfNormals(c.VirtualKeys, c.TopM));
                kGain = 1 / Math.Sqrt(dk);
                break;
            case "v2" or "v2_paper":
                nn.init.normal_(query.query_proj.weight!, 0, 1 / Math.Sqrt(half));
                nn.init.normal_(keys.row_keys, 0, 1 / Math.Sqrt(half));
                nn.init.normal_(keys.col_keys, 0, 1 / Math.Sqrt(half));
                qGain = kGain = Math.Pow(half, -0.4);
                break;
        }
        keys.q_norm?.weight!.fill_(qGain);
        keys.k_norm?.weight!.fill_(kGain);
        if (values is not null) InitializeTables(model);
    }

    /// <summary>Draws the values and pre-values this layer reads from N(0, σ_V) (<see cref="ValueInitStd"/>).</summary>
    public void InitializeTables(ModelConfig? model)
    {
        using var _ = no_grad();
        double std = ValueInitStd(model);
        nn.init.normal_(Values.weight, 0, std);
        if (PreValues is { } p) nn.init.normal_(p.weight, 0, std);
    }

    double ValueProjectionStd(ModelConfig? model) => Options.Init is "v2" or "v2_paper"
        ? (model?.InitStd ?? 0.02) / Math.Sqrt(2.0 * (model?.NLayers ?? 1))
        : 1 / Math.Sqrt(Options.PooledDim(_dModel));

    /// <summary>
    /// σ_V, the std of the value (and pre-value) entries, for this layer's <c>init</c> scheme. For <c>v2</c> it is solved from
    /// <code>
    ///   Var(o) = σ_proj² · Dv · H·m · E[w²] · g · (Dp · σ_V⁴  with pre-values | σ_V²  without)  =  Var(FFN(x))
    /// </code>
    /// (x unit-variance; σ_proj² · Dv read as 1 without a value projection; E[w²] the mean square of the weights applied to the selected rows — softmax or raw, per core —
    /// measured by a synthetic pass of random x through this layer's retrieval; g = E[SiLU(W_s x)²] with the output gate,
    /// else 1; a_i = ⟨W_pre x, P[i]⟩ has variance Dp·σ_V² because W_pre x has unit variance), with
    /// Var(FFN(x)) = F · σ_out² · E[SiLU(g)²] · σ_u² of the model's SwiGLU (F inner width, gate/up pre-activations of
    /// variance D·init_std², output std init_std/√(2L)). For <c>v2_paper</c>: σ_V⁴ = 0.2·k·D / (m·H·(1+σ_s²)·max(Dp,1)·Dv·L)
    /// with k = F/D and σ_s² the variance of the top-1 score divided by its mean (the paper's and reference code's reading).
    /// <c>paper_matched</c> solves the same equation as <c>v2</c> with v1's value projection N(0, 1/√(E·Dv)).
    /// </summary>
    public double ValueInitStd(ModelConfig? model)
    {
        var c = Options;
        double dv = c.ValueDimResolved(_dModel), dp = c.PreValueDimResolved, d = _dModel;
        int layers = model?.NLayers ?? 1;
        switch (c.Init)
        {
            case "pkm": return Math.Pow(dv, -0.5);
            case "reference": return 0.02;
            case "paper": return Math.Sqrt(c.Expansion / (2.0 * c.TopM * c.Heads * layers));
        }
        var m = model ?? new ModelConfig { DModel = _dModel, NLayers = 1 };              // standalone: a one-layer model's FFN
        var (meanSquare, top1RelVar) = MeasureSelectedWeights();
        double mh = (double)c.TopM * c.Heads;
        if (c.Init == "v2_paper")
            return Math.Pow(0.2 * m.FfnHiddenResolved / (mh * (1 + top1RelVar) * Math.Max(dp, 1) * dv * layers), 0.25);
        double ffnVar = InitMoments.SwiGluOutputVariance(m);
        double projVar = Math.Pow(ValueProjectionStd(model), 2);
        double gate = c.OutputGate ? InitMoments.MeanSquare(z => nn.functional.silu(z), m.InitStd * Math.Sqrt(d)) : 1;   // E[SiLU(W_s x)²]
        double projected = value_proj is null ? 1 : projVar * dv;                       // Var(o) per unit of pooled variance
        double perUnit = projected * mh * meanSquare * gate;                        // Var(o) per σ_V² (or per Dp·σ_V⁴)
        return dp > 0 ? Math.Pow(ffnVar / (perUnit * dp), 0.25) : Math.Sqrt(ffnVar / perUnit);
    }

    /// <summary>
    /// Synthetic pass: 2048 random unit-variance tokens (fixed seed, no global RNG use) through the retrieval →
    /// (mean square of the weights applied to the selected rows, variance of top-1 score / its mean).
    /// </summary>
    public (double MeanSquare, double Top1RelativeVariance) MeasureSelectedWeights(int tokens = 2048)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var x = InitMoments.NormalTensor(new long[] { 1, tokens, _dModel }, seed: 4242);
        bool wasTraining = query.training;
        query.eval();                                                                   // no BatchNorm statistics update
        Selection sel;
        try { sel = Retrieve(x); }
        finally { query.train(wasTraining); }
        using var _sel = sel;
        var w = (Options.Softmax ? sel.Scores.softmax(2) : sel.Scores).to(ScalarType.Float64);
        double meanSquare = w.square().mean().item<double>();
        var top1 = sel.Scores.sum(-1).select(2, 0).to(ScalarType.Float64);             // [N, H]
        var rel = top1 / top1.mean();
        return (meanSquare, rel.var().item<double>());
    }

    /// <summary>E[mean of the top-m of n standard normals], by Monte Carlo with a fixed seed (no global RNG use).</summary>
    public static double MeanTopOfNormals(int n, int m, int trials = 256)
    {
        var normals = InitMoments.Normals(n * trials, seed: 12345);
        var sample = new double[n];
        double total = 0;
        for (int t = 0; t < trials; t++)
        {
            Array.Copy(normals, t * n, sample, 0, n);
            Array.Sort(sample);
            double s = 0;
            for (int i = 0; i < Math.Min(m, n); i++) s += sample[n - 1 - i];
            total += s / Math.Min(m, n);
        }
        return total / trials;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) { _stats.Dispose(); _lastRows.Dispose(); values?.Sparse.Dispose(); pre_values?.Sparse.Dispose(); }
        base.Dispose(disposing);
    }

    /// <summary>
    /// Value usage over a window of forward passes: coverage (share of the N physical rows selected at least once),
    /// usage entropy normalised by log N (1 = uniform) and its KL from uniform (log N − H), mean top-1 score,
    /// memory output std. Kept outside the module tree (not a buffer, not saved).
    /// </summary>
    internal sealed class UsageStats : IDisposable
    {
        readonly long _rows;
        Tensor? _counts;
        double _top1Sum, _outSum, _outSq; long _tokens, _outCount;

        public UsageStats(long rows) { _rows = rows; }

        public void Record(Tensor rows, Tensor scores, Tensor output)
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            _counts ??= zeros(_rows, dtype: ScalarType.Float32).DetachFromDisposeScope();
            var flat = rows.flatten();
            _counts.index_add_(0, flat, ones(flat.shape[0], dtype: ScalarType.Float32), 1.0);
            var total = scores.sum(-1);                                        // [N, H, m] (Σ over cores)
            _top1Sum += total.select(2, 0).mean().to(ScalarType.Float64).item<double>() * total.shape[0];
            _tokens += total.shape[0];
            var o = output.detach().to(ScalarType.Float64);
            _outSum += o.sum().item<double>(); _outSq += o.square().sum().item<double>(); _outCount += o.numel();
        }

        public Dictionary<string, double> Summary()
        {
            var d = new Dictionary<string, double>();
            if (_counts is null || _tokens == 0) return d;
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            double hits = _counts.sum().item<float>();
            d["coverage"] = (_counts > 0).sum().item<long>() / (double)_rows;
            var p = _counts / hits;
            double entropy = -(p * (p + 1e-30).log()).sum().item<float>();
            d["usage_entropy"] = entropy / Math.Log(_rows);
            d["usage_kl_uniform"] = Math.Log(_rows) - entropy;
            d["top1_score"] = _top1Sum / _tokens;
            double mean = _outSum / _outCount;
            d["output_std"] = Math.Sqrt(Math.Max(0, _outSq / _outCount - mean * mean));
            return d;
        }

        public void Reset()
        {
            _counts?.zero_();
            _top1Sum = _outSum = _outSq = 0; _tokens = _outCount = 0;
        }

        public void Dispose() { _counts?.Dispose(); _counts = null; }
    }

    /// <summary>The tables a layer reads: its own, or a window of the model's shared ones (kept outside the module tree).</summary>
    sealed record Tables(ValueTable Values, ValueTable? PreValues, long Offset, long? SharedRows);
}
