using UltraMem.IO;
using UltraMem.Layers.Memory;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UltraMem.Layers.Peer;

/// <summary>
/// PEER — parameter-efficient expert retrieval (He 2024, "Mixture of A Million Experts", arXiv:2407.04153; docs/peer.md): N = n² experts,
/// each a single neuron
/// e_i(x) = σ(u_iᵀx)·v_i, retrieved by product keys with h heads. A token x [D] flows:
/// <code>
///   x ─ query_proj ─ norm ─▶ q [h, Dk];  per head: top-k of s_row + s_col over the n×n grid  (shared PKM retrieval)
///   gates g = softmax | relu | sigmoid | id (top-k scores of each head)
///   a_i = u_iᵀx for the h·k selected rows of expert_down (one gather, one batched dot)
///   o = Σ_heads Σ_i g_i · σ(a_i) · v_i        (EmbeddingBag over expert_up with per-sample weights g_i·σ(a_i))
/// </code>
/// Only h·k rows of each table are read per token, whatever N is. Both tables are <see cref="ValueTable"/>s, so
/// both train row-sparsely when enabled (<see cref="FeedForwardSlot.RowSparseTables"/>).
/// </summary>
public sealed class PeerLayer : FeedForwardSlot
{
    public QueryNetwork query;
    public ProductKeys keys;
    public ValueTable expert_down; // u [N, D]
    public ValueTable expert_up; // v [N, D]

    readonly ValueUsageStats _stats;
    readonly LastIndices _last = new();
    readonly int _dModel;

    public PeerConfig Options { get; }

    public PeerLayer(int dModel, PeerConfig config)
        : base(nameof(PeerLayer))
    {
        Options = config.Validate(dModel);
        _dModel = dModel;
        var retrieval = config.ToRetrieval();
        query = new QueryNetwork(dModel, retrieval);
        keys = new ProductKeys(retrieval);
        expert_down = new ValueTable(config.Experts, dModel);
        expert_up = new ValueTable(config.Experts, dModel);
        _stats = new ValueUsageStats(config.Experts);
        RegisterComponents();
        InitializeParameters(null);
    }

    /// <summary>Distinct experts selected by the last forward (over all its tokens and heads); 0 before the first.</summary>
    public long LastDistinctExperts => _last.Distinct();

    /// <summary>Each distinct expert reads one row of u and one of v (D each).</summary>
    public override IEnumerable<SparseRead> LastSparseReads()
    {
        long distinct = LastDistinctExperts;
        yield return new SparseRead("expert_down", distinct, expert_down.Rows, expert_down.Dim);
        yield return new SparseRead("expert_up", distinct, expert_up.Rows, expert_up.Dim);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0],
            t = x.shape[1],
            n = b * t,
            s = (long)Options.Heads * Options.TopK;
        using var sel = Retrieve(x);
        var idx = sel.Addresses.view(n, s);
        var g = Gates(sel.Scores).reshape(n, s); // g_i
        var u = DownRows(idx); // [n, h·k, D]
        var a = u.bmm(x.reshape(n, _dModel, 1)).squeeze(2); // a_i = u_iᵀx
        var o = expert_up.Pool(idx, null, (g * Activate(a)).unsqueeze(2), 1); // Σ g_i σ(a_i) v_i
        if (TrackUsage)
            _stats.Record(sel.Addresses, sel.Scores, o);
        _last.Set(sel.Addresses);
        return o.view(b, t, _dModel).MoveToOuterDisposeScope();
    }

    /// <summary>Query → product-key scores → top-k per head: scores [N, h, k, 1] (best first), expert ids [N, h, k].</summary>
    public Selection Retrieve(Tensor x)
    {
        using var scope = NewDisposeScope();
        var q = query.Forward(x, null); // [N, h, Dk]
        var (sRow, sCol) = keys.Scores(q); // [h, N, 1, n]
        var sel = ProductKeyRetrieval.Select(sRow, sCol, Options.TopK);
        return new Selection(sel.Scores.MoveToOuterDisposeScope(), sel.Addresses.MoveToOuterDisposeScope());
    }

    /// <summary>Gate activation over the router scores [N, h, k, 1] → g [N, h, k].</summary>
    public Tensor Gates(Tensor scores)
    {
        var s = scores.squeeze(-1);
        return Options.Gate switch
        {
            PeerGate.Softmax => s.softmax(2),
            PeerGate.Relu => F.relu(s),
            PeerGate.Sigmoid => s.sigmoid(),
            PeerGate.None => s.alias(),
        };
    }

    /// <summary>σ of the expert neuron.</summary>
    public Tensor Activate(Tensor a) => Activate(a, Options.Activation);

    static Tensor Activate(Tensor a, PeerActivation activation) =>
        activation switch
        {
            PeerActivation.Gelu => F.gelu(a),
            PeerActivation.Relu => F.relu(a),
            PeerActivation.Silu => F.silu(a),
            PeerActivation.None => a.alias(),
        };

    /// <summary>Rows idx [T, S] of expert_down → [T, S, D]; in row-sparse training through a gathered copy of the distinct rows.</summary>
    Tensor DownRows(Tensor idx) => expert_down.Lookup(idx);

    /// <summary>One line with the layer's shape, in the paper's symbols.</summary>
    public string Describe() => Describe(Options, _dModel);

    /// <summary>One line with the shape of a PEER layer with config <paramref name="c"/> (no layer built).</summary>
    public static string Describe(PeerConfig c, int dModel)
    {
        var parts = new List<string>
        {
            $"PEER: N={c.Experts:N0} single-neuron experts (n={c.NKeys}), u and v of width D={dModel}",
            $"h={c.Heads} x k={c.TopK}",
            $"Dk={c.KeyDim}",
            $"activation {JsonEnum.Name(c.Activation)}",
            $"gate {JsonEnum.Name(c.Gate)}",
            $"query {JsonEnum.Name(c.QueryNorm)}",
        };
        if (c.QkNorm)
            parts.Add("qk-norm");
        return string.Join(", ", parts);
    }

    public override ParameterCount Count() => Accounting(Options, _dModel);

    /// <summary>
    /// Total parameters, parameters read per token (query network and keys, plus the h·k selected rows of both tables)
    /// and forward FLOPs per token of a layer with config <paramref name="c"/>, from the config alone (nothing allocated).
    /// </summary>
    public static ParameterCount Accounting(PeerConfig c, int dModel)
    {
        long d = dModel,
            h = c.Heads,
            dk = c.KeyDim,
            n = c.NKeys,
            k = c.TopK;
        long dense = d * h * dk + h * dk; // query projection (with bias)
        if (c.QueryNorm != QueryNorm.None)
            dense += 2 * h * dk; // norm weight and bias
        dense += h * n * dk; // row and column keys, Dk/2 each
        if (c.QkNorm)
            dense += dk; // q_norm and k_norm gains, Dk/2 each
        long total = dense + 2 * c.Experts * d;
        long activated = dense + h * k * 2 * d; // u_i and v_i of the h·k selected experts
        long flops =
            2 * d * h * dk // query projection
            + 2 * h * 2 * n * (dk / 2) // S_row, S_col
            + h * k * k // k×k additive grid
            + h * k * (2 * d + 2 * d); // u_iᵀx and the weighted sum of the v_i
        return new ParameterCount(total, activated, flops);
    }

    /// <summary>
    /// Expert usage since the last reset: <c>coverage</c> (share of the N experts selected at least once),
    /// <c>usage_entropy</c> (normalised by log N; 1 = uniform), <c>usage_kl_uniform</c>, <c>top1_score</c> (mean best
    /// router score per head, before the gate), <c>output_std</c>.
    /// </summary>
    public override IReadOnlyDictionary<string, double> Diagnostics(bool reset)
    {
        var d = _stats.Summary();
        if (reset)
            _stats.Reset();
        return d;
    }

    /// <summary>
    /// Initialisation. Retrieval as PKM (<see cref="MemoryLayer.InitializeParameters"/>, <c>pkm</c>): W_q N(0, init_std),
    /// bias 0, keys U(±1/√(Dk/2)), norm gains 1. Experts: u_i ~ N(0, 1/√D), so a_i = u_iᵀx ~ N(0, 1) on unit-RMS input;
    /// v_i ~ N(0, σ_v) with σ_v chosen so that the output variance at init equals that of the model's SwiGLU FFN under
    /// the model's init (gate/up N(0, init_std), down N(0, init_std/√(2L)), width F):
    /// <code>
    ///   σ_v² · E[σ(a)²] · G  =  F · init_std²/(2L) · s² · E[silu(z)²],   z ~ N(0, s²), s = init_std·√D
    /// </code>
    /// where G = E[Σ_heads Σ_i g_i²] is measured by a synthetic retrieval pass over fixed pseudo-random unit-RMS tokens
    /// (the gate's weight mass depends on the score distribution), and both E[f(z)²] by quadrature. Without a model
    /// (a standalone layer), the FFN is that of a one-layer model of width D with the default init_std.
    /// </summary>
    public override void InitializeParameters(SlotContext? model)
    {
        var m = model ?? SlotContext.Standalone(_dModel);
        double half = Options.KeyDim / 2.0;
        using (no_grad())
        {
            nn.init.normal_(query.query_proj.weight!, 0, m.InitStd);
            nn.init.zeros_(query.query_proj.bias!);
            keys.row_keys.uniform_(-1 / Math.Sqrt(half), 1 / Math.Sqrt(half));
            keys.col_keys.uniform_(-1 / Math.Sqrt(half), 1 / Math.Sqrt(half));
            keys.q_norm?.weight!.fill_(1.0);
            keys.k_norm?.weight!.fill_(1.0);
            nn.init.normal_(expert_down.weight, 0, 1 / Math.Sqrt(_dModel));
            nn.init.normal_(expert_up.weight, 0, UpStd(m));
        }
    }

    /// <summary>σ_v of the variance-matched init (see <see cref="InitializeParameters"/>).</summary>
    double UpStd(SlotContext m)
    {
        double ffnVariance = InitMoments.SwiGluOutputVariance(m);
        double perExpert = InitMoments.MeanSquare(a => Activate(a, Options.Activation), 1.0);
        return Math.Sqrt(ffnVariance / (perExpert * Math.Max(MeanSquaredGateMass(), 1e-6)));
    }

    /// <summary>G = E[Σ_heads Σ_i g_i²] over 256 fixed pseudo-random unit-RMS tokens (no global RNG; BatchNorm statistics
    /// untouched).</summary>
    double MeanSquaredGateMass(int tokens = 256)
    {
        bool wasTraining = query.training;
        query.eval();
        try
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var xt = InitMoments.NormalTensor(new long[] { 1, tokens, _dModel }, seed: 20240704).to(query.query_proj.weight!.dtype);
            xt = xt / xt.square().mean(new long[] { -1 }, keepdim: true).sqrt(); // unit RMS, like the block's RMSNorm output
            using var sel = Retrieve(xt);
            return Gates(sel.Scores).square().sum(new long[] { 1, 2 }).mean().to(ScalarType.Float64).item<double>();
        }
        finally
        {
            query.train(wasTraining);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stats.Dispose();
            _last.Dispose();
            expert_down.Sparse.Dispose();
            expert_up.Sparse.Dispose();
        }
        base.Dispose(disposing);
    }
}
