using TorchSharp.Modules;
using UltraMem.Model;
using static TorchSharp.torch;

namespace UltraMem.Layers.Memory;

/// <summary>
/// A product-key memory layer, from PKM (Lample et al. 2019) to UltraMem (Huang et al. 2025), one switch per rung
/// of the paper's ablation ladder (<see cref="MemoryConfig"/>). A token x [D] flows:
/// <code>
///   x ─[query_conv]─ query_proj ─ norm ─▶ q [Hq, Dk] ─(share_query: head 2i, 2i+1 ← query i)─▶ q [H, Dk]
///   q_row, q_col = halves ─[qk_norm]─▶ S_row, S_col = ⟨q_row, K_row⟩, ⟨q_col, K_col⟩      [H, r, n']
///   product keys: top-m of s_row + s_col          |  TDQKR: coarse by u, t → exact Σ_c S_rowᵀ C_c S_col → top-m
///   scores [H, m, h] ─[softmax]─▶ weights;  addresses ─[IVE π]─▶ (group g, row p)
///   pooled[g] = Σ weights · V[p] (MCS: chunk c by core c)  ─[value_proj: Linear(E·Dv → D)]─▶ o [D]
/// </code>
/// Only H·m value rows are read per token, whatever N is.
/// </summary>
public sealed class MemoryLayer : FeedForwardSlot
{
    public QueryNetwork query;
    public ProductKeys keys;
    public TuckerRetrieval? tucker;
    public ImplicitValueExpansion? ive;
    public ValueTable values;
    public Linear? value_proj;

    readonly UsageStats _stats;
    readonly int _dModel;

    public MemoryConfig Options { get; }

    public MemoryLayer(int dModel, MemoryConfig config) : base(nameof(MemoryLayer))
    {
        Options = config.Validate(dModel);
        _dModel = dModel;
        query = new QueryNetwork(dModel, config);
        keys = new ProductKeys(config);
        if (config.IsTucker) tucker = new TuckerRetrieval(config);
        if (config.Expansion > 1) ive = new ImplicitValueExpansion(config);
        int dv = config.ValueDimResolved(dModel);
        values = new ValueTable(config.Rows, dv);
        if (config.HasProjection(dModel)) value_proj = nn.Linear((long)config.Expansion * dv, dModel, hasBias: false);
        _stats = new UsageStats(config.Rows);
        RegisterComponents();
        InitializeParameters(null);
    }

    /// <summary>Collect value-usage diagnostics in forward passes (cheap; on by default).</summary>
    public bool TrackUsage { get; set; } = true;

    public override Tensor forward(Tensor x) => Forward(x, null);

    public override Tensor Step(Tensor x, SlotState state) => Forward(x, state);

    Tensor Forward(Tensor x, SlotState? state)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], n = b * t;
        var c = Options;
        using var sel = Retrieve(x, state);
        var scores = c.Softmax ? sel.Scores.softmax(2) : sel.Scores;                      // over each head's m
        Tensor? group = null; var row = sel.Addresses;
        if (ive is not null) (group, row) = ive.Map(sel.Addresses);
        long s = (long)c.Heads * c.TopM;
        var pooled = values.Pool(row.view(n, s), group?.view(n, s), scores.reshape(n, s, c.Cores), c.Expansion);
        var o = value_proj is null ? pooled : value_proj.forward(pooled);
        if (TrackUsage) _stats.Record(row, sel.Scores, o);
        return o.view(b, t, _dModel).MoveToOuterDisposeScope();
    }

    /// <summary>Query → scores → top-m: the retrieval part alone (addresses are virtual when IVE is on).</summary>
    public Selection Retrieve(Tensor x, SlotState? state = null)
    {
        using var scope = NewDisposeScope();
        var q = query.Forward(x, state);                                                  // [N, Hq, Dk]
        if (Options.ShareQuery) q = q.repeat_interleave(2, dim: 1);                        // [N, H, Dk]
        var (sRow, sCol) = keys.Scores(q);                                                // [H, N, r, n']
        var sel = tucker is null ? ProductKeyRetrieval.Select(sRow, sCol, Options.TopM) : tucker.Select(sRow, sCol, Options.TopM);
        return new Selection(sel.Scores.MoveToOuterDisposeScope(), sel.Addresses.MoveToOuterDisposeScope());
    }

    /// <summary>One line with the layer's shape, in the paper's symbols.</summary>
    public string Describe()
    {
        var c = Options;
        string retrieval = c.IsTucker ? $"TDQKR r={c.Rank} h={c.Cores} coarse {c.CoarseTopResolved}" + (c.TuckerAuxLoss ? " +aux" : "") : "product keys";
        var parts = new List<string>
        {
            $"N={c.Rows:N0} values x Dv={c.ValueDimResolved(_dModel)} (n={c.NKeys}" + (c.Expansion > 1 ? $", E={c.Expansion} -> {c.VirtualKeys} keys/side, {c.Rows * c.Expansion:N0} virtual" : "") + ")",
            $"H={c.Heads} x m={c.TopM}", $"Dk={c.KeyDim}", retrieval, c.Softmax ? "softmax" : "raw scores",
        };
        if (value_proj is not null) parts.Add("value_proj");
        if (c.ShareQuery) parts.Add("shared query");
        if (c.QkNorm) parts.Add("qk-norm");
        if (c.QueryConv) parts.Add($"query conv k={c.QueryConvKernel}");
        parts.Add($"query {c.QueryNorm}");
        parts.Add($"init {c.Init}");
        if (c.ValueLrMultiplier != 1) parts.Add($"value lr x{c.ValueLrMultiplier}->1");
        return string.Join(", ", parts);
    }

    public override Tensor? AuxiliaryLoss =>
        Options.TuckerAuxLoss && tucker is not null && training ? tucker.AuxiliaryLoss(Options.TuckerAuxTau, Options.TuckerAuxAlpha) : null;

    public override IEnumerable<(string Name, RowSparseGradient Gradient)> RowSparseTables() =>
        new[] { ("values.weight", values.Sparse) };

    public override IEnumerable<ValueGroup> ValueGroups() =>
        new[] { new ValueGroup(new[] { "values.weight" }, Options.ValueLrMultiplier, Options.ValueLrDecaySteps) };

    public override void AfterOptimizerStep() => tucker?.RefreshCoarseVectors();

    public override ParameterCount Count() => Accounting(Options, _dModel);

    /// <summary>
    /// Total parameters, parameters read per token (everything but the table, plus the H·m selected rows) and
    /// forward FLOPs per token of a layer with config <paramref name="c"/>, from the config alone (no table allocated).
    /// </summary>
    public static ParameterCount Accounting(MemoryConfig c, int dModel)
    {
        long d = dModel, hq = c.QueryHeads, dk = c.KeyDim, h = c.Heads, keysPerSide = c.VirtualKeys, r = c.Rank, m = c.TopM;
        long dv = c.ValueDimResolved(dModel), e = c.Expansion, cores = c.Cores, mc = c.CoarseTopResolved;
        long dense = 0;
        if (c.QueryConv) dense += d * c.QueryConvKernel;
        dense += d * hq * dk + hq * dk;                           // query projection (with bias)
        if (c.QueryNorm != "none") dense += 2 * hq * dk;          // norm weight and bias
        dense += h * r * keysPerSide * dk;                        // row and column keys, Dk/2 each
        if (c.QkNorm) dense += dk;                                // q_norm and k_norm gains, Dk/2 each
        if (c.IsTucker) dense += h * cores * r * r;
        if (c.HasProjection(dModel)) dense += e * dv * d;
        long total = dense + c.Rows * dv;
        long activated = dense + h * m * dv;                      // every token reads all dense parts and its m·H rows
        long flops = 0;
        if (c.QueryConv) flops += 2 * d * c.QueryConvKernel;
        flops += 2 * d * hq * dk;                                 // query projection
        flops += 2 * h * r * 2 * keysPerSide * (dk / 2);          // S_row, S_col
        if (c.IsTucker)
        {
            flops += 2 * h * 2 * r * keysPerSide;                 // coarse uᵀS_row, tᵀS_col
            flops += 2 * h * cores * (r * r * mc + r * mc * mc);  // exact scores on the m'×m' candidate grid
        }
        else flops += h * m * m;                                  // k×k additive grid
        flops += 2 * h * m * dv;                                  // weighted sum of the selected values
        if (c.HasProjection(dModel)) flops += 2 * e * dv * d;
        return new ParameterCount(total, activated, flops);
    }

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
    /// Initialisation (spec §3.5), chosen by <c>init</c>:
    /// <list type="bullet">
    /// <item><c>pkm</c> — Lample et al.: keys U(±1/√(Dk/2)), values N(0, std Dv^−½); query as the model's linears; norm gains 1;</item>
    /// <item><c>reference</c> — the authors' code: q/k-norm gains 1/Dk^0.33, W_q and keys N(0, 1/√Dk), values N(0, 0.02);</item>
    /// <item><c>paper</c> — values N(0, var E/(2·m·H·L)) so the memory output variance matches an FFN's 1/(2L);
    /// query-norm gain 1/√E[Y] (Y: mean of the top-m of n' standard normals, Monte Carlo), key-norm gain 1/√Dk.</item>
    /// </list>
    /// All: value_proj N(0, 1/√(E·Dv)); Tucker cores U(0, 1); query conv the identity.
    /// </summary>
    public override void InitializeParameters(ModelConfig? model)
    {
        using var _ = no_grad();
        var c = Options;
        double dk = c.KeyDim, half = c.KeyDim / 2.0, dv = c.ValueDimResolved(_dModel);
        int layers = model?.NLayers ?? 1;
        query.query_conv?.ResetToIdentity();
        nn.init.zeros_(query.query_proj.bias!);
        if (value_proj is not null) nn.init.normal_(value_proj.weight!, 0, 1 / Math.Sqrt(c.Expansion * dv));
        tucker?.tucker_cores.uniform_(0, 1);
        tucker?.RefreshCoarseVectors(keepSign: false);
        double qGain = 1, kGain = 1;
        switch (c.Init)
        {
            case "pkm":
                nn.init.normal_(query.query_proj.weight!, 0, model?.InitStd ?? 0.02);
                keys.row_keys.uniform_(-1 / Math.Sqrt(half), 1 / Math.Sqrt(half));
                keys.col_keys.uniform_(-1 / Math.Sqrt(half), 1 / Math.Sqrt(half));
                nn.init.normal_(values.weight, 0, Math.Pow(dv, -0.5));
                break;
            case "reference":
                nn.init.normal_(query.query_proj.weight!, 0, 1 / Math.Sqrt(dk));
                nn.init.normal_(keys.row_keys, 0, 1 / Math.Sqrt(dk));
                nn.init.normal_(keys.col_keys, 0, 1 / Math.Sqrt(dk));
                nn.init.normal_(values.weight, 0, 0.02);
                qGain = kGain = Math.Pow(dk, -0.33);
                break;
            case "paper":
                nn.init.normal_(query.query_proj.weight!, 0, 1 / Math.Sqrt(dk));
                nn.init.normal_(keys.row_keys, 0, 1 / Math.Sqrt(dk));
                nn.init.normal_(keys.col_keys, 0, 1 / Math.Sqrt(dk));
                nn.init.normal_(values.weight, 0, Math.Sqrt(c.Expansion / (2.0 * c.TopM * c.Heads * layers)));
                qGain = 1 / Math.Sqrt(MeanTopOfNormals(c.VirtualKeys, c.TopM));
                kGain = 1 / Math.Sqrt(dk);
                break;
        }
        keys.q_norm?.weight!.fill_(qGain);
        keys.k_norm?.weight!.fill_(kGain);
    }

    /// <summary>E[mean of the top-m of n standard normals], by Monte Carlo with a fixed seed (no global RNG use).</summary>
    public static double MeanTopOfNormals(int n, int m, int trials = 256)
    {
        var rng = new Random(12345);
        var sample = new double[n];
        double total = 0;
        for (int t = 0; t < trials; t++)
        {
            for (int i = 0; i < n; i++)
                sample[i] = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            Array.Sort(sample);
            double s = 0;
            for (int i = 0; i < Math.Min(m, n); i++) s += sample[n - 1 - i];
            total += s / Math.Min(m, n);
        }
        return total / trials;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) { _stats.Dispose(); values.Sparse.Dispose(); }
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
}
