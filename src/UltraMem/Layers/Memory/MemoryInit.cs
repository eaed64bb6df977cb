using static TorchSharp.torch;

namespace UltraMem.Layers.Memory;

/// <summary>
/// The initialisation schemes of a <see cref="MemoryLayer"/> (its config's <c>init</c>) and the σ_V solver of the
/// variance-matched ones. Every draw uses torch's global generator in a fixed order, so a seeded model is reproducible.
/// </summary>
public static class MemoryInit
{
    /// <summary>
    /// Initialisation (UltraMem arXiv:2411.12364, UltraMemV2 arXiv:2508.18756; docs/memory-layers.md, "Initialisation"), chosen by
    /// <c>init</c>:
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
    /// (see <see cref="ValueStd"/>);</item>
    /// <item><c>v2_paper</c> — the same, with σ_V from the paper's printed formula read as σ_V⁴ (docs/memory-layers.md,
    /// "Initialisation").</item>
    /// </list>
    /// Otherwise: value_proj N(0, 1/√pooled width); W_pre N(0, 1/√D); W_s as the model's linears; Tucker cores U(0, 1);
    /// query conv the identity. Shared tables are initialised once by the model (<see cref="InitializeTables"/>).
    /// </summary>
    public static void Initialize(MemoryLayer l, SlotContext model)
    {
        using var _ = no_grad();
        var c = l.Options;
        double dk = c.KeyDim,
            half = c.KeyDim / 2.0;
        double initStd = model.InitStd;
        l.query.query_conv?.ResetToIdentity();
        nn.init.zeros_(l.query.query_proj.bias!);
        if (l.value_proj is not null)
            nn.init.normal_(l.value_proj.weight!, 0, ValueProjectionStd(l, model));
        if (l.pre_value_proj is not null)
            nn.init.normal_(l.pre_value_proj.weight!, 0, 1 / Math.Sqrt(l.DModel));
        if (l.gate_proj is not null)
            nn.init.normal_(l.gate_proj.weight!, 0, initStd);
        l.tucker?.tucker_cores.uniform_(0, 1);
        l.tucker?.RefreshCoarseVectors(keepSign: false);
        // W_q, then the row and column keys (this order: seeded models stay reproducible), and the q/k-norm gains
        var (qGain, kGain) = c.Init switch
        {
            InitScheme.Pkm => PkmKeys(l, initStd, half),
            InitScheme.Reference => NormalKeys(l, 1 / Math.Sqrt(dk), Math.Pow(dk, -0.33), Math.Pow(dk, -0.33)),
            InitScheme.Paper or InitScheme.PaperMatched => NormalKeys(
                l,
                1 / Math.Sqrt(dk),
                1 / Math.Sqrt(MeanTopOfNormals(c.VirtualKeys, c.TopM)),
                1 / Math.Sqrt(dk)
            ),
            InitScheme.V2 or InitScheme.V2Paper => NormalKeys(l, 1 / Math.Sqrt(half), Math.Pow(half, -0.4), Math.Pow(half, -0.4)),
        };
        l.keys.q_norm?.weight!.fill_(qGain);
        l.keys.k_norm?.weight!.fill_(kGain);
        if (l.OwnsTables)
            InitializeTables(l, model);
    }

    /// <summary>PKM's: W_q as the model's linears, keys U(±1/√(Dk/2)), norm gains 1.</summary>
    static (double Q, double K) PkmKeys(MemoryLayer l, double initStd, double half)
    {
        nn.init.normal_(l.query.query_proj.weight!, 0, initStd);
        l.keys.row_keys.uniform_(-1 / Math.Sqrt(half), 1 / Math.Sqrt(half));
        l.keys.col_keys.uniform_(-1 / Math.Sqrt(half), 1 / Math.Sqrt(half));
        return (1, 1);
    }

    /// <summary>W_q and both key sets N(0, <paramref name="std"/>); returns the query- and key-norm gains.</summary>
    static (double Q, double K) NormalKeys(MemoryLayer l, double std, double qGain, double kGain)
    {
        nn.init.normal_(l.query.query_proj.weight!, 0, std);
        nn.init.normal_(l.keys.row_keys, 0, std);
        nn.init.normal_(l.keys.col_keys, 0, std);
        return (qGain, kGain);
    }

    /// <summary>Draws the values and pre-values this layer reads from N(0, σ_V) (<see cref="ValueStd"/>).</summary>
    public static void InitializeTables(MemoryLayer l, SlotContext model)
    {
        using var _ = no_grad();
        double std = ValueStd(l, model);
        nn.init.normal_(l.Values.weight, 0, std);
        if (l.PreValues is { } p)
            nn.init.normal_(p.weight, 0, std);
    }

    static double ValueProjectionStd(MemoryLayer l, SlotContext model) =>
        l.Options.Init is InitScheme.V2 or InitScheme.V2Paper
            ? model.InitStd / Math.Sqrt(2.0 * model.NLayers)
            : 1 / Math.Sqrt(l.Options.PooledDim(l.DModel));

    /// <summary>
    /// σ_V, the std of the value (and pre-value) entries, for this layer's <c>init</c> scheme. For <c>v2</c> it is solved from
    /// <code>
    ///   Var(o) = σ_proj² · Dv · H·m · E[w²] · g · (Dp · σ_V⁴  with pre-values | σ_V²  without)  =  Var(FFN(x))
    /// </code>
    /// (x unit-variance; σ_proj² · Dv read as 1 without a value projection; E[w²] the mean square of the weights applied to the selected
    /// rows — softmax or raw, per core —
    /// measured by a synthetic pass of random x through this layer's retrieval; g = E[SiLU(W_s x)²] with the output gate,
    /// else 1; a_i = ⟨W_pre x, P[i]⟩ has variance Dp·σ_V² because W_pre x has unit variance), with
    /// Var(FFN(x)) = F · σ_out² · E[SiLU(g)²] · σ_u² of the model's SwiGLU (F inner width, gate/up pre-activations of
    /// variance D·init_std², output std init_std/√(2L)). For <c>v2_paper</c>: σ_V⁴ = 0.2·k·D / (m·H·(1+σ_s²)·max(Dp,1)·Dv·L)
    /// with k = F/D and σ_s² the variance of the top-1 score divided by its mean (the paper's and reference code's reading).
    /// <c>paper_matched</c> solves the same equation as <c>v2</c> with v1's value projection N(0, 1/√(E·Dv)).
    /// </summary>
    public static double ValueStd(MemoryLayer l, SlotContext model)
    {
        var c = l.Options;
        return c.Init switch
        {
            InitScheme.Pkm => Math.Pow(c.ValueDimResolved(l.DModel), -0.5),
            InitScheme.Reference => 0.02,
            InitScheme.Paper => Math.Sqrt(c.Expansion / (2.0 * c.TopM * c.Heads * model.NLayers)),
            InitScheme.V2Paper or InitScheme.V2 or InitScheme.PaperMatched => MatchedValueStd(l, model),
        };
    }

    /// <summary>σ_V of <c>v2</c>, <c>paper_matched</c> (solved) and <c>v2_paper</c> (the printed formula); see <see
    /// cref="ValueStd"/>.</summary>
    static double MatchedValueStd(MemoryLayer l, SlotContext model)
    {
        var c = l.Options;
        double dv = c.ValueDimResolved(l.DModel),
            dp = c.PreValueDimResolved,
            d = l.DModel;
        int layers = model.NLayers;
        var m = model;
        var (meanSquare, top1RelVar) = MeasureSelectedWeights(l);
        double mh = (double)c.TopM * c.Heads;
        if (c.Init == InitScheme.V2Paper)
            return Math.Pow(0.2 * m.FfnHidden / (mh * (1 + top1RelVar) * Math.Max(dp, 1) * dv * layers), 0.25);
        double ffnVar = InitMoments.SwiGluOutputVariance(m);
        double projVar = Math.Pow(ValueProjectionStd(l, model), 2);
        double gate = c.OutputGate ? InitMoments.MeanSquare(z => nn.functional.silu(z), m.InitStd * Math.Sqrt(d)) : 1; // E[SiLU(W_s x)²]
        double projected = l.value_proj is null ? 1 : projVar * dv; // Var(o) per unit of pooled variance
        double perUnit = projected * mh * meanSquare * gate; // Var(o) per σ_V² (or per Dp·σ_V⁴)
        return dp > 0 ? Math.Pow(ffnVar / (perUnit * dp), 0.25) : Math.Sqrt(ffnVar / perUnit);
    }

    /// <summary>
    /// Synthetic pass: 2048 random unit-variance tokens (fixed seed, no global RNG use) through the retrieval →
    /// (mean square of the weights applied to the selected rows, variance of top-1 score / its mean).
    /// </summary>
    public static (double MeanSquare, double Top1RelativeVariance) MeasureSelectedWeights(MemoryLayer l, int tokens = 2048)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var x = InitMoments.NormalTensor(new long[] { 1, tokens, l.DModel }, seed: 4242);
        bool wasTraining = l.query.training;
        l.query.eval(); // no BatchNorm statistics update
        Selection sel;
        try
        {
            sel = l.Retrieve(x);
        }
        finally
        {
            l.query.train(wasTraining);
        }
        using var _sel = sel;
        var w = (l.Options.Softmax ? sel.Scores.softmax(2) : sel.Scores).to(ScalarType.Float64);
        double meanSquare = w.square().mean().item<double>();
        var top1 = sel.Scores.sum(-1).select(2, 0).to(ScalarType.Float64); // [N, H]
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
            for (int i = 0; i < Math.Min(m, n); i++)
                s += sample[n - 1 - i];
            total += s / Math.Min(m, n);
        }
        return total / trials;
    }
}
