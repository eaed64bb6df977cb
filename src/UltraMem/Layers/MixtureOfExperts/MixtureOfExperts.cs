using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UltraMem.Layers.Moe;

/// <summary>
/// Top-k mixture of SwiGLU experts (the "top-k in N" baseline of the UltraMem paper, arXiv:2411.12364; docs/moe.md). A token x [D] flows:
/// <code>
///   logits = gate(x) [N] ─softmax─▶ p ─top-k─▶ (p_i, e_i), i = 1..k ─[normalize_gates]─▶ g_i = p_i / Σ_j p_j
///   y = Σ_i g_i · experts[e_i](x)
/// </code>
/// Execution is grouped: the T·k (token, expert) assignments are sorted by expert, each expert that received tokens
/// runs once on its own token subset, and the gated outputs are added back with one <c>index_add_</c>. No expert
/// ever runs on a token not routed to it. Parameter names follow HF Mixtral (<c>gate.weight</c>,
/// <c>experts.{e}.gate_proj.weight</c>, …; Mixtral calls the projections w1/w3/w2).
/// </summary>
public sealed class MixtureOfExperts : FeedForwardSlot
{
    public Linear gate; // router W_r [N, D], no bias
    public ModuleList<SwiGLU> experts;

    readonly RouterStats _stats;
    readonly int _dModel,
        _ffnHidden;

    public MoeConfig Options { get; }

    /// <summary>Resolved SwiGLU inner width of each expert.</summary>
    public int ExpertHidden { get; }

    /// <param name="dModel">D.</param>
    /// <param name="config">The layer's settings.</param>
    /// <param name="ffnHidden">The model's dense FFN width; the expert width is <c>ffnHidden / top_k</c> when <c>expert_hidden</c> is
    /// null.</param>
    public MixtureOfExperts(int dModel, MoeConfig config, int ffnHidden)
        : base(nameof(MixtureOfExperts))
    {
        Options = config.Validate(dModel);
        _dModel = dModel;
        _ffnHidden = ffnHidden;
        ExpertHidden = config.ExpertHiddenResolved(ffnHidden);
        gate = nn.Linear(dModel, config.Experts, hasBias: false);
        experts = new ModuleList<SwiGLU>();
        for (int e = 0; e < config.Experts; e++)
            experts.Add(new SwiGLU(dModel, ExpertHidden));
        _stats = new RouterStats(config.Experts);
        RegisterComponents();
    }

    /// <summary>Distinct experts that received at least one token in the last forward pass (each is read whole).</summary>
    public int LastDistinctExperts { get; private set; }

    /// <summary>Tokens (assignments) each expert received in the last forward pass; sums to T·k.</summary>
    public IReadOnlyList<long> LastExpertTokens { get; private set; } = Array.Empty<long>();

    /// <summary>Every expert that received a token is read whole: gate, up and down projections, 3·D·H_e parameters.</summary>
    public override IEnumerable<SparseRead> LastSparseReads()
    {
        yield return new SparseRead("experts", LastDistinctExperts, Options.Experts, 3L * _dModel * ExpertHidden);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        int k = Options.TopK,
            nExperts = Options.Experts;
        long n = x.numel() / _dModel;
        var flat = x.reshape(n, _dModel);
        var logits = gate.forward(flat); // [T, N]
        var probs = logits.softmax(1); // p_t,e
        var (topP, topI) = probs.topk(k, 1); // [T, k]
        var gates = Options.NormalizeGates ? topP / topP.sum(1, keepdim: true) : topP;

        // group the T·k assignments by expert: a stable sort keeps each expert's tokens in sequence order
        var assigned = topI.flatten(); // assignment a = t·k + i → expert e_i(t)
        var (_, order) = assigned.sort(stable: true);
        var countsT = bincount(assigned, minlength: nExperts);
        long[] counts = countsT.data<long>().ToArray();
        var token = order.div(k, RoundingMode.floor); // token of each sorted assignment
        var pieces = flat.index_select(0, token).split(counts);
        var outputs = new List<Tensor>(nExperts);
        for (int e = 0; e < nExperts; e++)
            if (counts[e] > 0)
                outputs.Add(experts[e].forward(pieces[e]));
        var y = zeros(n, _dModel, dtype: x.dtype, device: x.device);
        if (outputs.Count > 0)
        {
            var weighted = cat(outputs, 0) * gates.flatten().index_select(0, order).unsqueeze(1);
            y = y.index_add_(0, token, weighted, 1.0);
        }
        LastExpertTokens = counts;
        LastDistinctExperts = counts.Count(c => c > 0);

        // auxiliary losses: f_e = share of the T·k assignments (no gradient), P_e = mean router probability
        Tensor? balance = null,
            z = null;
        bool wantLoss = training && is_grad_enabled();
        if (n > 0 && (TrackUsage || (wantLoss && Options.BalanceLoss > 0)))
        {
            var f = countsT.to(probs.dtype) / (n * k);
            balance = (f * probs.mean(new long[] { 0 })).sum() * nExperts; // N·Σ_e f_e·P_e: 1 when balanced
        }
        if (n > 0 && (TrackUsage || (wantLoss && Options.ZLoss > 0)))
            z = logits.logsumexp(1).square().mean(); // mean_t logsumexp(logits_t)²
        if (TrackUsage && n > 0)
            _stats.Record(counts, n, Scalar(balance!), Scalar(z!));
        Tensor? aux = null;
        if (wantLoss && Options.BalanceLoss > 0)
            aux = balance! * Options.BalanceLoss;
        if (wantLoss && Options.ZLoss > 0)
            aux = aux is null ? z! * Options.ZLoss : aux + z! * Options.ZLoss;
        // owned by this layer until the next forward pass: the model's forward scope ends before the trainer adds it to the loss
        _stats.Auxiliary = aux?.DetachFromDisposeScope();
        return y.reshape(x.shape).MoveToOuterDisposeScope();
    }

    static double Scalar(Tensor t) => t.detach().to(ScalarType.Float64).item<double>();

    /// <summary>α·balance + β·z of the last training forward pass (null in eval mode or when both are off).</summary>
    public override Tensor? AuxiliaryLoss => training ? _stats.Auxiliary : null;

    public override ParameterCount Count() => Accounting(Options, _dModel, _ffnHidden);

    /// <summary>
    /// Total parameters (router + N experts), parameters read per token (router + k experts) and forward FLOPs per
    /// token of a layer with config <paramref name="c"/>, from the config alone. <paramref name="ffnHidden"/> (the
    /// model's FFN width, used when <c>expert_hidden</c> is null) defaults to the default width for <paramref name="dModel"/>.
    /// </summary>
    public static ParameterCount Accounting(MoeConfig c, int dModel, int? ffnHidden = null)
    {
        long d = dModel,
            n = c.Experts,
            k = c.TopK;
        long h = c.ExpertHiddenResolved(ffnHidden ?? SwiGLU.DefaultHidden(dModel));
        long expert = 3 * d * h; // gate_proj, up_proj, down_proj
        var router = ParameterCount.Dense(d, n);
        return router + new ParameterCount(n * expert, k * expert, k * (2 * expert + 2 * d)); // + gate-weighted sum
    }

    /// <summary>One line with the layer's shape.</summary>
    public string Describe() => Describe(Options, _dModel, ExpertHidden);

    /// <summary>One line with the shape of a MoE layer with config <paramref name="c"/> (no layer built).</summary>
    public static string Describe(MoeConfig c, int dModel, int ffnHidden)
    {
        int hidden = c.ExpertHiddenResolved(ffnHidden);
        string loss =
            (c.BalanceLoss > 0 ? $"balance loss {c.BalanceLoss}" : "no balance loss") + (c.ZLoss > 0 ? $", z-loss {c.ZLoss}" : "");
        return $"{c.TopK}in{c.Experts}: N={c.Experts} SwiGLU experts ({dModel} -> {hidden} -> {dModel}), top-{c.TopK}, "
            + (c.NormalizeGates ? "renormalised gates" : "raw softmax gates")
            + ", "
            + loss;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _stats.Auxiliary = null;
        base.Dispose(disposing);
    }

    public override IReadOnlyDictionary<string, double> Diagnostics(bool reset)
    {
        var d = _stats.Summary();
        if (reset)
            _stats.Reset();
        return d;
    }

    /// <summary>
    /// Expert usage over a window of forward passes, and the last auxiliary loss. Kept outside the module tree
    /// (not a buffer, not saved). Keys: <c>max_load</c> / <c>min_load</c> (max_e / min_e of f_e·N, 1 = uniform),
    /// <c>usage_entropy</c> (entropy of f / log N), <c>unused</c> (share of experts that got no token),
    /// <c>balance</c> (token-weighted mean of N·Σ f_e·P_e per pass, 1 = balanced; the loss is α times it),
    /// <c>router_z</c> (mean logsumexp(logits)²), <c>distinct_experts</c> (mean experts touched per pass).
    /// </summary>
    sealed class RouterStats
    {
        readonly double[] _counts;
        double _balanceSum,
            _zSum,
            _distinctSum;
        long _tokens,
            _passes;

        public RouterStats(int experts)
        {
            _counts = new double[experts];
        }

        Tensor? _auxiliary;

        /// <summary>The last auxiliary loss (setting it disposes the previous one; autograd keeps what a pending backward needs).</summary>
        public Tensor? Auxiliary
        {
            get => _auxiliary;
            set
            {
                _auxiliary?.Dispose();
                _auxiliary = value;
            }
        }

        public void Record(long[] counts, long tokens, double balance, double z)
        {
            for (int e = 0; e < counts.Length; e++)
                _counts[e] += counts[e];
            _balanceSum += balance * tokens;
            _zSum += z * tokens;
            _tokens += tokens;
            _distinctSum += counts.Count(c => c > 0);
            _passes++;
        }

        public Dictionary<string, double> Summary()
        {
            var d = new Dictionary<string, double>();
            double total = _counts.Sum();
            if (_tokens == 0 || total == 0)
                return d;
            int n = _counts.Length;
            d["max_load"] = _counts.Max() / total * n;
            d["min_load"] = _counts.Min() / total * n;
            double entropy = -_counts.Where(c => c > 0).Sum(c => c / total * Math.Log(c / total));
            d["usage_entropy"] = n > 1 ? entropy / Math.Log(n) : 1.0;
            d["unused"] = _counts.Count(c => c == 0) / (double)n;
            d["balance"] = _balanceSum / _tokens;
            d["router_z"] = _zSum / _tokens;
            d["distinct_experts"] = _distinctSum / _passes;
            return d;
        }

        public void Reset()
        {
            Array.Clear(_counts);
            _balanceSum = _zSum = _distinctSum = 0;
            _tokens = _passes = 0;
        }
    }
}
