using TorchSharp;
using UltraMem.Layers;
using UltraMem.Layers.Moe;
using static TorchSharp.torch;

namespace UltraMem.Tests.Moe;

/// <summary>The MoE layer against oracles: the dense FFN, hand-computed mixtures, a naive per-token loop, the loss formulas.</summary>
public class MixtureOfExpertsTests
{
    static double Diff(Tensor a, Tensor b) => (a - b).abs().max().to(ScalarType.Float64).item<double>();

    static void CopyWeights(SwiGLU from, SwiGLU to)
    {
        using var _ = no_grad();
        to.gate_proj.weight!.copy_(from.gate_proj.weight!);
        to.up_proj.weight!.copy_(from.up_proj.weight!);
        to.down_proj.weight!.copy_(from.down_proj.weight!);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void OneExpertWithTopOneEqualsTheDenseSwiGLU(bool training)
    {
        manual_seed(1);
        const int d = 12,
            hidden = 20;
        using var ffn = new SwiGLU(d, hidden);
        using var moe = new MixtureOfExperts(
            d,
            new MoeConfig
            {
                Experts = 1,
                TopK = 1,
                ExpertHidden = hidden,
            },
            ffnHidden: 999
        );
        CopyWeights(ffn, moe.experts[0]);
        using (no_grad())
            moe.gate.weight!.normal_();
        if (training)
            moe.train();
        else
            moe.eval();
        var x = randn(3, 5, d);
        var probe = randn(3, 5, d);
        var xa = x.clone().requires_grad_(true);
        var xb = x.clone().requires_grad_(true);
        var ya = ffn.forward(xa);
        var yb = moe.forward(xb);
        Assert.Equal(ya.shape, yb.shape);
        Assert.True(TestData.MaxAbsDiff(ya, yb) < 1e-6f, $"max diff {TestData.MaxAbsDiff(ya, yb)}");
        (ya * probe).sum().backward();
        var lossB = (yb * probe).sum();
        if (training)
            lossB = lossB + moe.AuxiliaryLoss!; // the balance loss is constant for one expert (f = P = 1)
        else
            Assert.Null(moe.AuxiliaryLoss);
        lossB.backward();
        Assert.True(TestData.MaxAbsDiff(xa.grad!, xb.grad!) < 1e-5f);
        var dense = ffn.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var mixture = moe.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var name in new[] { "gate_proj", "up_proj", "down_proj" })
        {
            var ga = dense[$"{name}.weight"].grad!;
            var gb = mixture[$"experts.0.{name}.weight"].grad!;
            Assert.True(TestData.MaxAbsDiff(ga, gb) < 1e-5f, $"{name}: {TestData.MaxAbsDiff(ga, gb)}");
        }
        Assert.Equal(0f, moe.gate.weight!.grad!.abs().max().item<float>()); // softmax over one expert: gate ≡ 1
        Assert.Equal(1, moe.LastDistinctExperts);
        Assert.Equal(ffn.Count().Total + d, moe.Count().Total); // + the router's 1×D
    }

    /// <summary>SwiGLU of one token in double: down(SiLU(gate x) ⊙ up x), weights read from the module.</summary>
    static double[] ExpertByHand(SwiGLU e, double[] x)
    {
        double[,] W(TorchSharp.Modules.Linear l)
        {
            var w = l.weight!.to(ScalarType.Float64);
            var a = w.data<double>().ToArray();
            var m = new double[w.shape[0], w.shape[1]];
            for (int i = 0; i < m.GetLength(0); i++)
            for (int j = 0; j < m.GetLength(1); j++)
                m[i, j] = a[i * m.GetLength(1) + j];
            return m;
        }
        double[] MatVec(double[,] m, double[] v) =>
            Enumerable.Range(0, m.GetLength(0)).Select(i => Enumerable.Range(0, v.Length).Sum(j => m[i, j] * v[j])).ToArray();
        var g = MatVec(W(e.gate_proj), x);
        var u = MatVec(W(e.up_proj), x);
        var h = g.Select((gi, i) => gi / (1 + Math.Exp(-gi)) * u[i]).ToArray();
        return MatVec(W(e.down_proj), h);
    }

    // Router = identity (D = N = 3), so each input row is its own logits. Probabilities by hand:
    //   (ln 3, ln 2, 0) → (1/2, 1/3, 1/6);  (0, ln 2, ln 3) → (1/6, 1/3, 1/2);  (ln 4, 0, ln 2) → (4/7, 1/7, 2/7)
    static readonly double[][] Logits =
    {
        new[] { Math.Log(3), Math.Log(2), 0 },
        new[] { 0, Math.Log(2), Math.Log(3) },
        new[] { Math.Log(4), 0, Math.Log(2) },
    };

    [Theory]
    // top-1: the best expert with gate 1 (renormalised) or its probability (raw)
    [InlineData(1, true, new[] { 0, 2, 0 }, new[] { 1.0, 1.0, 1.0 })]
    [InlineData(1, false, new[] { 0, 2, 0 }, new[] { 1 / 2.0, 1 / 2.0, 4 / 7.0 })]
    // top-2: experts (0, 1), (2, 1), (0, 2); renormalised (1/2, 1/3)/(5/6) = (3/5, 2/5), (4/7, 2/7)/(6/7) = (2/3, 1/3)
    [InlineData(2, true, new[] { 0, 1, 2, 1, 0, 2 }, new[] { 3 / 5.0, 2 / 5.0, 3 / 5.0, 2 / 5.0, 2 / 3.0, 1 / 3.0 })]
    [InlineData(2, false, new[] { 0, 1, 2, 1, 0, 2 }, new[] { 1 / 2.0, 1 / 3.0, 1 / 2.0, 1 / 3.0, 4 / 7.0, 2 / 7.0 })]
    public void KnownRoutingGivesTheHandComputedMixture(int k, bool normalize, int[] experts, double[] gates)
    {
        manual_seed(2);
        using var moe = new MixtureOfExperts(
            3,
            new MoeConfig
            {
                Experts = 3,
                TopK = k,
                ExpertHidden = 5,
                NormalizeGates = normalize,
            },
            0
        );
        moe.to(ScalarType.Float64);
        moe.eval();
        using var _ = no_grad();
        moe.gate.weight!.copy_(eye(3, dtype: ScalarType.Float64));
        var x = tensor(Logits.SelectMany(r => r).ToArray(), new long[] { 1, 3, 3 }, dtype: ScalarType.Float64);
        var y = moe.forward(x).reshape(3, 3).data<double>().ToArray();
        for (int t = 0; t < 3; t++)
        {
            var expected = new double[3];
            for (int i = 0; i < k; i++)
            {
                var e = ExpertByHand(moe.experts[experts[t * k + i]], Logits[t]);
                for (int c = 0; c < 3; c++)
                    expected[c] += gates[t * k + i] * e[c];
            }
            for (int c = 0; c < 3; c++)
                Assert.Equal(expected[c], y[t * 3 + c], 12);
        }
    }

    public static IEnumerable<object[]> RandomConfigs() =>
        new[]
        {
            new object[]
            {
                new MoeConfig
                {
                    Experts = 6,
                    TopK = 2,
                    ExpertHidden = 7,
                },
            },
            new object[]
            {
                new MoeConfig
                {
                    Experts = 5,
                    TopK = 3,
                    ExpertHidden = 4,
                    NormalizeGates = false,
                },
            },
            new object[]
            {
                new MoeConfig
                {
                    Experts = 16,
                    TopK = 1,
                    ExpertHidden = 3,
                },
            }, // 21 tokens, 16 experts: some get none
        };

    [Theory, MemberData(nameof(RandomConfigs))]
    public void GroupedExecutionEqualsANaiveLoopOverAllExpertsPerToken(MoeConfig config)
    {
        manual_seed(3);
        const int d = 8;
        using var moe = new MixtureOfExperts(d, config, 0);
        moe.to(ScalarType.Float64);
        moe.eval();
        using (no_grad())
            moe.gate.weight!.normal_(0, 1); // spread routing
        var x = randn(new long[] { 3, 7, d }, dtype: ScalarType.Float64);
        var probe = randn(new long[] { 3, 7, d }, dtype: ScalarType.Float64);
        var fast = moe.forward(x);
        (fast * probe).sum().backward();
        var fastGrads = moe.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad?.clone());
        var counts = moe.LastExpertTokens.ToArray();
        int distinct = moe.LastDistinctExperts;
        moe.zero_grad();

        // oracle: every expert on every token; the router's probabilities ranked on the host
        var flat = x.reshape(21, d);
        var rows = new List<Tensor>();
        var expectedCounts = new long[config.Experts];
        for (int t = 0; t < 21; t++)
        {
            var xt = flat[t].unsqueeze(0);
            var p = moe.gate.forward(xt).softmax(1).squeeze(0);
            var all = Enumerable.Range(0, config.Experts).Select(e => moe.experts[e].forward(xt).squeeze(0)).ToArray();
            var pHost = p.detach().data<double>().ToArray();
            var top = Enumerable.Range(0, config.Experts).OrderByDescending(e => pHost[e]).Take(config.TopK).ToArray();
            var norm = config.NormalizeGates ? top.Select(e => p[e]).Aggregate((a, b) => a + b) : ones(1, dtype: ScalarType.Float64);
            var yt = zeros(d, dtype: ScalarType.Float64);
            for (int e = 0; e < config.Experts; e++)
                yt = yt + (top.Contains(e) ? p[e] / norm : zeros(1, dtype: ScalarType.Float64)) * all[e];
            foreach (int e in top)
                expectedCounts[e]++;
            rows.Add(yt);
        }
        var slow = stack(rows).reshape(3, 7, d);
        Assert.True(Diff(fast, slow) < 1e-12, $"max diff {Diff(fast, slow)}");
        Assert.Equal(expectedCounts, counts);
        Assert.Equal(expectedCounts.Count(c => c > 0), distinct);
        (slow * probe).sum().backward();
        foreach (var (name, p) in moe.named_parameters())
        {
            var g = fastGrads[name];
            int e = name.StartsWith("experts.") ? int.Parse(name.Split('.')[1]) : -1;
            if (e >= 0 && expectedCounts[e] == 0)
            {
                Assert.Null(g);
                continue;
            } // never run, so no gradient
            Assert.True(g is not null, $"{name} got no gradient");
            Assert.True(Diff(g!, p.grad!) < 1e-10, $"{name}: {Diff(g!, p.grad!)}");
        }
        Assert.True(config.Experts < 16 || expectedCounts.Contains(0), "the 16-expert case should leave an expert without tokens");
    }

    [Fact]
    public void ExpertsThatReceiveNoTokenAreNotRun()
    {
        manual_seed(4);
        using var moe = new MixtureOfExperts(
            4,
            new MoeConfig
            {
                Experts = 4,
                TopK = 2,
                ExpertHidden = 6,
            },
            0
        );
        moe.train();
        using (no_grad())
            moe.gate.weight!.copy_(eye(4));
        var x = tensor(new float[] { 5, 4, 0, 0, 4, 5, 0, 0, 6, 3, 1, 0 }, new long[] { 1, 3, 4 }); // always experts 0 and 1
        var y = moe.forward(x);
        (y.sum() + moe.AuxiliaryLoss!).backward();
        Assert.Equal(2, moe.LastDistinctExperts);
        Assert.Equal(new long[] { 3, 3, 0, 0 }, moe.LastExpertTokens);
        Assert.NotNull(moe.experts[0].down_proj.weight!.grad);
        Assert.Null(moe.experts[2].down_proj.weight!.grad);
        Assert.Null(moe.experts[3].gate_proj.weight!.grad);
    }

    [Fact]
    public void BalanceAndZLossEqualTheirFormulasOnAHandExample()
    {
        // k = 1, router = identity. Tokens' logits and probabilities:
        //   (ln 2, 0, 0) → (1/2, 1/4, 1/4) → e0;  (0, ln 3, 0) → (1/5, 3/5, 1/5) → e1;
        //   (0, 0, ln 4) → (1/6, 1/6, 2/3) → e2;  (ln 2, 0, 0) again → e0
        // f = (2, 1, 1)/4;  P = mean probabilities;  balance = N·Σ f_e·P_e;  z = mean logsumexp² = mean (ln 4, ln 5, ln 6, ln 4)²
        double[] f = { 2 / 4.0, 1 / 4.0, 1 / 4.0 };
        double[] P =
        {
            (1 / 2.0 + 1 / 5.0 + 1 / 6.0 + 1 / 2.0) / 4,
            (1 / 4.0 + 3 / 5.0 + 1 / 6.0 + 1 / 4.0) / 4,
            (1 / 4.0 + 1 / 5.0 + 2 / 3.0 + 1 / 4.0) / 4,
        };
        double balance = 3 * (f[0] * P[0] + f[1] * P[1] + f[2] * P[2]); // = 1.00625
        double z = (2 * Math.Pow(Math.Log(4), 2) + Math.Pow(Math.Log(5), 2) + Math.Pow(Math.Log(6), 2)) / 4;
        Assert.Equal(1.00625, balance, 12);
        var logits = new[] { Math.Log(2), 0, 0, 0, Math.Log(3), 0, 0, 0, Math.Log(4), Math.Log(2), 0, 0 };

        double? Aux(double alpha, double beta, int k = 1, double[]? input = null, bool train = true)
        {
            using var moe = new MixtureOfExperts(
                3,
                new MoeConfig
                {
                    Experts = 3,
                    TopK = k,
                    ExpertHidden = 2,
                    BalanceLoss = alpha,
                    ZLoss = beta,
                },
                0
            );
            moe.to(ScalarType.Float64);
            if (train)
                moe.train();
            else
                moe.eval();
            using (no_grad())
                moe.gate.weight!.copy_(eye(3, dtype: ScalarType.Float64));
            var xs = input ?? logits;
            moe.forward(tensor(xs, new long[] { 1, xs.Length / 3, 3 }, dtype: ScalarType.Float64));
            var aux = moe.AuxiliaryLoss;
            if (aux is not null)
                Assert.True(aux.requires_grad);
            return aux?.item<double>();
        }
        Assert.Equal(0.01 * balance, Aux(0.01, 0)!.Value, 12);
        Assert.Equal(0.1 * z, Aux(0, 0.1)!.Value, 12);
        Assert.Equal(0.01 * balance + 0.1 * z, Aux(0.01, 0.1)!.Value, 12);
        Assert.Null(Aux(0, 0));
        Assert.Null(Aux(0.01, 0.1, train: false));

        // k = 2: f counts the T·k assignments. (ln 3, ln 2, 0) ×2 → (1/2, 1/3, 1/6) → e0, e1;  (0, ln 2, ln 3) → e2, e1
        // f = (2, 3, 1)/6;  P = (7/18, 6/18, 5/18);  balance = 3·(14 + 18 + 5)/108 = 111/108
        var two = new[] { Math.Log(3), Math.Log(2), 0, Math.Log(3), Math.Log(2), 0, 0, Math.Log(2), Math.Log(3) };
        Assert.Equal(111 / 108.0, Aux(1, 0, k: 2, input: two)!.Value, 12);
    }

    [Fact]
    public void DiagnosticsReportTheWindowsExpertLoad()
    {
        using var moe = new MixtureOfExperts(
            3,
            new MoeConfig
            {
                Experts = 3,
                TopK = 1,
                ExpertHidden = 2,
            },
            0
        );
        moe.to(ScalarType.Float64);
        moe.eval();
        using var _ = no_grad();
        moe.gate.weight!.copy_(eye(3, dtype: ScalarType.Float64));
        Assert.Empty(moe.Diagnostics(reset: false));
        // first pass: experts 0, 0 (two tokens); second pass: expert 1 → window counts (2, 1, 0)
        moe.forward(tensor(new[] { 1.0, 0, 0, 2, 0, 0 }, new long[] { 1, 2, 3 }, dtype: ScalarType.Float64));
        moe.forward(tensor(new[] { 0.0, 1, 0 }, new long[] { 1, 1, 3 }, dtype: ScalarType.Float64));
        var d = moe.Diagnostics(reset: true);
        Assert.Equal(2 / 3.0 * 3, d["max_load"], 12);
        Assert.Equal(0, d["min_load"], 12);
        Assert.Equal(1 / 3.0, d["unused"], 12);
        double entropy = -(2 / 3.0 * Math.Log(2 / 3.0) + 1 / 3.0 * Math.Log(1 / 3.0));
        Assert.Equal(entropy / Math.Log(3), d["usage_entropy"], 12);
        Assert.Equal(1.0, d["distinct_experts"], 12);
        // router z: logsumexp of (1,0,0), (2,0,0), (0,1,0), token-weighted
        double lse1 = Math.Log(Math.E + 2),
            lse2 = Math.Log(Math.Exp(2) + 2);
        Assert.Equal((lse1 * lse1 + lse2 * lse2 + lse1 * lse1) / 3, d["router_z"], 12);
        // balance per pass: pass 1 f = (1, 0, 0), P_0 = mean(e/(e+2), e²/(e²+2)); pass 2 f = (0, 1, 0), P_1 = e/(e+2)
        double b1 = 3 * (Math.E / (Math.E + 2) + Math.Exp(2) / (Math.Exp(2) + 2)) / 2,
            b2 = 3 * Math.E / (Math.E + 2);
        Assert.Equal((2 * b1 + b2) / 3, d["balance"], 12);
        Assert.Empty(moe.Diagnostics(reset: false));
    }

    [Fact]
    public void AccountingCountsTheRouterAndKExpertsPerToken()
    {
        var c = new MoeConfig
        {
            Experts = 10,
            TopK = 3,
            ExpertHidden = 7,
        };
        using var moe = new MixtureOfExperts(16, c, 0);
        var count = MixtureOfExperts.Accounting(c, 16);
        Assert.Equal(moe.parameters().Sum(p => p.numel()), count.Total);
        Assert.Equal(moe.Count(), count);
        Assert.Equal(16 * 10 + 3 * 3 * 16 * 7, count.Activated);
        Assert.Equal(2 * 16 * 10 + 3 * (2 * 3 * 16 * 7 + 2 * 16), count.FlopsPerToken);

        // default sizing: expert_hidden = FFN width / top_k, so top-2 activates exactly the dense FFN's parameters
        var model = UltraMem.Model.ModelConfig.Preset("tiny", 512);
        var defaults = MixtureOfExperts.Accounting(new MoeConfig(), model.DModel);
        long router = model.DModel * 8L;
        using var ffn = new SwiGLU(model.DModel, model.FfnHiddenResolved);
        Assert.Equal(ffn.Count().Activated, defaults.Activated - router);
        Assert.Equal(4 * (defaults.Activated - router) + router, defaults.Total);
    }
}
