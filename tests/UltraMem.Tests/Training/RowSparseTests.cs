using UltraMem.Layers.Memory;
using UltraMem.Training;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace UltraMem.Tests.Training;

/// <summary>
/// Row-sparse value gradients, lazy AdamW and clipping, checked against the dense path on a stand-in for a memory
/// layer: a table [N, D] read by a weighted bag lookup (out_b = Σ_k w_bk · table[idx_bk]).
/// </summary>
public class RowSparseTests
{
    readonly Xunit.Abstractions.ITestOutputHelper _out;

    public RowSparseTests(Xunit.Abstractions.ITestOutputHelper output) => _out = output;

    const double Beta1 = 0.9,
        Beta2 = 0.95,
        Eps = 1e-8;

    /// <summary>The stand-in layer. Dense: looks up the table itself. Row-sparse: unique → Gather → look up the copy.</summary>
    sealed class BagLookup
    {
        public Parameter Table { get; }
        public RowSparseGradient Sparse { get; }

        public BagLookup(Tensor init, bool rowSparse)
        {
            Table = new Parameter(init.clone(), requires_grad: true);
            Sparse = new RowSparseGradient(Table) { Enabled = rowSparse };
        }

        public Tensor Forward(Tensor idx, Tensor w)
        {
            long b = idx.shape[0],
                k = idx.shape[1],
                d = Table.shape[1];
            Tensor rows;
            if (Sparse.Enabled)
            {
                var (uniq, inverse, _) = unique(idx.flatten(), sorted: true, return_inverse: true);
                rows = Sparse.Gather(uniq).index_select(0, inverse!);
            }
            else
                rows = Table.index_select(0, idx.flatten());
            return (rows.view(b, k, d) * w.unsqueeze(-1)).sum(1);
        }
    }

    sealed record Batch(Tensor Idx, Tensor W, Tensor Target)
    {
        public long[] Rows => Idx.flatten().data<long>().Distinct().OrderBy(r => r).ToArray();
    }

    /// <summary>A batch drawing rows from <paramref name="rows"/> (every one of them at least once when <paramref
    /// name="coverAll"/>).</summary>
    static Batch MakeBatch(Random rng, IReadOnlyList<long> rows, int bags, int perBag, int d, bool coverAll = false)
    {
        var idx = new long[bags * perBag];
        int start = 0;
        if (coverAll)
        {
            Assert.True(idx.Length >= rows.Count);
            foreach (var r in rows)
                idx[start++] = r;
        }
        for (int i = start; i < idx.Length; i++)
            idx[i] = rows[rng.Next(rows.Count)];
        idx = idx.OrderBy(_ => rng.Next()).ToArray();
        float Next(double scale) => (float)((rng.NextDouble() * 2 - 1) * scale);
        var w = Enumerable.Range(0, idx.Length).Select(_ => Next(1)).ToArray();
        var target = Enumerable.Range(0, bags * d).Select(_ => Next(3)).ToArray();
        return new Batch(tensor(idx).view(bags, perBag), tensor(w).view(bags, perBag), tensor(target).view(bags, d));
    }

    static Tensor Loss(BagLookup m, Batch b) => (m.Forward(b.Idx, b.W) - b.Target).pow(2).sum();

    static void Backward(BagLookup m, Batch b)
    {
        using var scope = NewDisposeScope();
        Loss(m, b).backward();
    }

    static (BagLookup Layer, UltraMem.Training.AdamW Opt) Setup(
        Tensor init,
        bool rowSparse,
        double weightDecay,
        Func<long, double>? multiplier = null
    )
    {
        var layer = new BagLookup(init, rowSparse);
        var group = new ParameterGroup
        {
            Name = "values",
            Parameters = new[] { ("values", layer.Table) },
            WeightDecay = weightDecay,
            LearningRateMultiplier = multiplier ?? (_ => 1.0),
        };
        // the dense run registers the table too (Enabled false): the same optimizer takes the dense path for it
        return (layer, new UltraMem.Training.AdamW(new[] { group }, Beta1, Beta2, Eps, rowSparse: new[] { ("values", layer.Sparse) }));
    }

    static void AdamStep(BagLookup layer, UltraMem.Training.AdamW opt, IEnumerable<Batch> micro, double lr)
    {
        foreach (var b in micro)
            Backward(layer, b);
        opt.Step(lr);
        opt.ZeroGrad();
    }

    static Dictionary<string, Tensor> State(UltraMem.Training.AdamW opt) =>
        opt.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

    static bool Same(Tensor a, Tensor b) => a.equal(b).all().item<bool>();

    [Fact]
    public void CoalescedGradientIsTheDenseGradientOnTheSelectedRowsAndZeroElsewhere()
    {
        manual_seed(11);
        var init = randn(12, 5);
        var dense = new BagLookup(init, rowSparse: false);
        var sparse = new BagLookup(init, rowSparse: true);
        // repeated rows inside a bag, across bags and across two micro-batches (gradient accumulation)
        var micro = new[]
        {
            new Batch(
                tensor(new long[] { 1, 3, 3, 5, 1, 7 }).view(2, 3),
                tensor(new[] { 0.5f, -1f, 2f, 1.5f, 0.25f, -0.75f }).view(2, 3),
                randn(2, 5)
            ),
            new Batch(
                tensor(new long[] { 3, 9, 1, 0, 0, 2 }).view(2, 3),
                tensor(new[] { 1f, 0.3f, -2f, 0.6f, 0.9f, 1.1f }).view(2, 3),
                randn(2, 5)
            ),
        };
        foreach (var b in micro)
        {
            Assert.True(Same(dense.Forward(b.Idx, b.W), sparse.Forward(b.Idx, b.W)), "the gathered copy must give the same forward");
            Backward(dense, b);
            Backward(sparse, b);
        }
        Assert.Null(sparse.Table.grad); // the dense table gets no gradient at all
        Assert.True(sparse.Sparse.HasPending);
        var (rows, grad) = sparse.Sparse.Coalesce()!.Value;
        Assert.Equal(new long[] { 0, 1, 2, 3, 5, 7, 9 }, rows.data<long>().ToArray());
        Assert.Equal(new long[] { 7, 5 }, grad.shape);
        var denseGrad = dense.Table.grad!;
        Assert.True(
            TestData.MaxAbsDiff(grad, denseGrad.index_select(0, rows)) < 1e-6f,
            $"max diff {TestData.MaxAbsDiff(grad, denseGrad.index_select(0, rows))}"
        );
        Assert.True(grad.abs().sum(1).min().item<float>() > 0, "every selected row has a gradient");
        var others = tensor(new long[] { 4, 6, 8, 10, 11 });
        Assert.Equal(0f, denseGrad.index_select(0, others).abs().max().item<float>());
        // cached: a second call returns the same tensors (a clipper's in-place scaling is what the optimizer reads)
        Assert.Same(grad, sparse.Sparse.Coalesce()!.Value.Grad);
        sparse.Sparse.Clear();
        Assert.False(sparse.Sparse.HasPending);
        Assert.Null(sparse.Sparse.Coalesce());
    }

    [Fact]
    public void SgdWithTheRowSparseGradientMatchesDenseSgd()
    {
        manual_seed(12);
        var init = randn(20, 6);
        var dense = new BagLookup(init, rowSparse: false);
        var sparse = new BagLookup(init, rowSparse: true);
        var rng = new Random(3);
        var all = Enumerable.Range(0, 20).Select(i => (long)i).ToArray();
        const double lr = 0.05;
        for (int step = 0; step < 5; step++)
        {
            var subset = all.OrderBy(_ => rng.Next()).Take(8).ToArray();
            var micro = new[] { MakeBatch(rng, subset, 3, 4, 6), MakeBatch(rng, subset, 2, 4, 6) };
            foreach (var b in micro)
            {
                Backward(dense, b);
                Backward(sparse, b);
            }
            using (no_grad())
            {
                dense.Table.add_(dense.Table.grad!, alpha: -lr);
                dense.Table.grad!.zero_();
                var (rows, grad) = sparse.Sparse.Coalesce()!.Value;
                sparse.Table.index_add_(0, rows, grad, -lr);
                sparse.Sparse.Clear();
            }
        }
        Assert.True(TestData.MaxAbsDiff(dense.Table, sparse.Table) < 1e-6f, $"max diff {TestData.MaxAbsDiff(dense.Table, sparse.Table)}");
        Assert.True(TestData.MaxAbsDiff(dense.Table, init) > 1e-2f, "parameters did not move");
    }

    [Fact]
    public void LazyAdamEqualsDenseAdamWWhenEveryRowIsSelectedEveryStep()
    {
        manual_seed(13);
        var init = randn(10, 3);
        var (dense, denseOpt) = Setup(init, rowSparse: false, weightDecay: 0.1, ValueLearningRate.LinearDecay(3, 4));
        var (lazy, lazyOpt) = Setup(init, rowSparse: true, weightDecay: 0.1, ValueLearningRate.LinearDecay(3, 4));
        var rng = new Random(4);
        var all = Enumerable.Range(0, 10).Select(i => (long)i).ToArray();
        for (int step = 0; step < 6; step++)
        {
            var micro = new[] { MakeBatch(rng, all, 4, 4, 3, coverAll: true), MakeBatch(rng, all, 2, 3, 3) };
            AdamStep(dense, denseOpt, micro, 0.01);
            AdamStep(lazy, lazyOpt, micro, 0.01);
        }
        Assert.True(TestData.MaxAbsDiff(dense.Table, lazy.Table) < 1e-6f, $"max diff {TestData.MaxAbsDiff(dense.Table, lazy.Table)}");
        var sd = State(denseOpt);
        foreach (var (name, t) in State(lazyOpt))
            Assert.True(TestData.MaxAbsDiff(t, sd[name]) < 1e-6f, $"{name}: max diff {TestData.MaxAbsDiff(t, sd[name])}");
        Assert.Equal(denseOpt.StepCount, lazyOpt.StepCount);
        Assert.True(TestData.MaxAbsDiff(init, lazy.Table) > 1e-2f, "parameters did not move");
        Assert.Null(lazy.Table.grad);
    }

    [Fact]
    public void RowsNeverSelectedKeepTheirValuesAndMomentsBitForBit()
    {
        manual_seed(14);
        var init = randn(10, 4);
        var (dense, denseOpt) = Setup(init, rowSparse: false, weightDecay: 0.1);
        var (lazy, lazyOpt) = Setup(init, rowSparse: true, weightDecay: 0.1);
        var rng = new Random(5);
        var selected = new long[] { 0, 1, 2, 3, 4, 5 };
        for (int step = 0; step < 4; step++)
        {
            var micro = new[] { MakeBatch(rng, selected, 3, 3, 4) };
            AdamStep(dense, denseOpt, micro, 0.01);
            AdamStep(lazy, lazyOpt, micro, 0.01);
        }
        // an optimizer step with no rows gathered at all: the table is skipped (not even weight decay)
        var before = lazy.Table.clone();
        lazyOpt.Step(0.01);
        Assert.True(Same(before, lazy.Table));
        Assert.Equal(5, lazyOpt.StepCount);

        var never = tensor(new long[] { 6, 7, 8, 9 });
        Assert.True(
            Same(lazy.Table.index_select(0, never), init.index_select(0, never)),
            "lazy AdamW touched a row that was never selected"
        );
        var state = State(lazyOpt);
        Assert.Equal(0f, state["exp_avg.values"].index_select(0, never).abs().max().item<float>());
        Assert.Equal(0f, state["exp_avg_sq.values"].index_select(0, never).abs().max().item<float>());
        // dense AdamW decays them (zero gradient, but p ← p·(1 − lr·λ) every step)
        var expected = init.index_select(0, never) * Math.Pow(1 - 0.01 * 0.1, 4);
        Assert.True(TestData.MaxAbsDiff(dense.Table.index_select(0, never), expected) < 1e-6f);
        Assert.False(Same(dense.Table.index_select(0, never), init.index_select(0, never)));
        Assert.True(
            TestData.MaxAbsDiff(lazy.Table.index_select(0, tensor(selected)), init.index_select(0, tensor(selected))) > 1e-3f,
            "selected rows did not move"
        );
    }

    /// <summary>
    /// The a-priori bound on Adam's step direction, |m̂/(√v̂+ε)| ≤ B_t (Cauchy–Schwarz on the moment sums; holds for any
    /// gradients, zero ones included, and for lazy moments updated n ≤ t times with the global-t bias corrections):
    /// B_t = (1−β1)/√(1−β2) · sqrt(Σ_{k&lt;t} (β1²/β2)^k) · √(1−β2^t)/(1−β1^t). B_1 = 1; B_t ≤ ≈1.17 for β = (0.9, 0.95).
    /// </summary>
    static double DirectionBound(long t)
    {
        double gamma = Beta1 * Beta1 / Beta2,
            sum = 0;
        for (long k = 0; k < t; k++)
            sum += Math.Pow(gamma, k);
        return (1 - Beta1) / Math.Sqrt(1 - Beta2) * Math.Sqrt(sum) * Math.Sqrt(1 - Math.Pow(Beta2, t)) / (1 - Math.Pow(Beta1, t));
    }

    static Tensor Direction(UltraMem.Training.AdamW opt, long t)
    {
        var s = opt.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value);
        double bc1 = 1 - Math.Pow(Beta1, t),
            bc2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, t));
        return s["exp_avg.values"] / bc1 / (s["exp_avg_sq.values"].sqrt() / bc2Sqrt + Eps);
    }

    /// <summary>
    /// Rows selected in only some steps: after the first step that leaves some row out (t0), every step moves a
    /// coordinate by at most lr·(B_t + λ·|p|) in either run, and lazy AdamW moves only the selected rows, so
    /// |p_dense − p_lazy| ≤ |diff before t0| + Σ_{t≥t0} lr·(B_t + λ·|p_dense,t−1|) + Σ_{t≥t0, row selected} lr·(B_t + λ·|p_lazy,t−1|).
    /// For a row that lazy never touches again, only the dense-only updates count, each at most lr·(|m̂/(√v̂+ε)| + λ·|p|).
    /// </summary>
    [Fact]
    public void PartiallySelectedRowsStayWithinTheDocumentedBound()
    {
        manual_seed(15);
        const int n = 16,
            d = 4;
        const double lr = 0.01,
            wd = 0.1;
        var init = randn(n, d);
        var (dense, denseOpt) = Setup(init, rowSparse: false, weightDecay: wd);
        var (lazy, lazyOpt) = Setup(init, rowSparse: true, weightDecay: wd);
        var rng = new Random(6);
        var all = Enumerable.Range(0, n).Select(i => (long)i).ToArray();
        var some = all.Take(12).ToArray(); // rows 12..15: selected in step 1 only
        var gone = tensor(new long[] { 12, 13, 14, 15 });

        Tensor diff0 = zeros(n, d),
            bound = zeros(n, d),
            goneBound = zeros(gone.shape[0], d);
        for (long t = 1; t <= 12; t++)
        {
            var batch =
                t == 1
                    ? MakeBatch(rng, all, 6, 4, d, coverAll: true)
                    : MakeBatch(rng, some.OrderBy(_ => rng.Next()).Take(6).ToArray(), 3, 3, d);
            var selected = zeros(n, 1);
            selected.index_fill_(0, tensor(batch.Rows), 1);
            var pD = dense.Table.detach().clone();
            var pL = lazy.Table.detach().clone();
            AdamStep(dense, denseOpt, new[] { batch }, lr);
            AdamStep(lazy, lazyOpt, new[] { batch }, lr);
            if (t == 1)
            {
                diff0 = (dense.Table - lazy.Table).abs();
                continue;
            }

            double bt = DirectionBound(t);
            var dirD = Direction(denseOpt, t);
            var dirL = Direction(lazyOpt, t);
            Assert.True(
                dirD.abs().max().item<float>() <= bt + 1e-5,
                $"step {t}: dense direction {dirD.abs().max().item<float>()} > B_t {bt}"
            );
            Assert.True(
                dirL.abs().max().item<float>() <= bt + 1e-5,
                $"step {t}: lazy direction {dirL.abs().max().item<float>()} > B_t {bt}"
            );
            // a dense-only update (row not selected): |Δp| ≤ lr·|m̂/(√v̂+ε)| + lr·λ·|p|
            var step = (dense.Table - pD).abs();
            var perStep = lr * dirD.abs() + lr * wd * pD.abs();
            var unselected = 1 - selected;
            float over = (step * unselected - perStep * unselected).max().item<float>();
            Assert.True(over <= 1e-6f, $"step {t}: a dense-only update exceeds lr·(|m̂/(√v̂+ε)| + λ|p|) by {over}"); // margin: float32 rounding of p (ulp 2.4e-7 at |p| = 2)
            goneBound += perStep.index_select(0, gone);
            bound += lr * (bt + wd * pD.abs()) + selected * (lr * (bt + wd * pL.abs()));
            // the lazy run leaves unselected rows alone
            Assert.True(Same(lazy.Table * unselected, pL * unselected), $"step {t}: lazy AdamW moved an unselected row");
        }
        Assert.True(diff0.max().item<float>() < 1e-6f, "identical before any row was left out");
        var diff = (dense.Table - lazy.Table).abs();
        float worst = (diff - diff0 - bound).max().item<float>();
        Assert.True(worst <= 1e-5f, $"|dense − lazy| exceeds the bound by {worst}");
        var goneDiff = diff.index_select(0, gone);
        float goneWorst = (goneDiff - diff0.index_select(0, gone) - goneBound).max().item<float>();
        Assert.True(goneWorst <= 1e-5f, $"rows left out after step 1 exceed the dense-only bound by {goneWorst}");
        Assert.True(goneDiff.min().item<float>() > 0, "dense AdamW should keep moving rows that lazy AdamW leaves alone");
        Assert.True(
            diff.index_select(0, tensor(some)).max().item<float>() > 1e-5f,
            "the two paths should differ on partially selected rows"
        );
        float ratio = (diff / (bound + diff0 + 1e-12)).max().item<float>();
        Assert.True(ratio < 1, $"worst |dense − lazy| / bound = {ratio}");
        _out.WriteLine(
            $"partial selection: max |dense − lazy| {diff.max().item<float>():E3}, worst ratio to the bound {ratio:F3}, "
                + $"rows left out after step 1: {goneDiff.max().item<float>():E3} vs dense-only bound {goneBound.max().item<float>():E3}"
        );
    }

    [Fact]
    public void GlobalNormClippingCountsRowSparseGradientsAndScalesThem()
    {
        manual_seed(16);
        var init = randn(12, 4);
        var projInit = randn(4, 3);
        var rng = new Random(7);
        var micro = new[] { MakeBatch(rng, new long[] { 0, 2, 4, 5, 9 }, 3, 4, 4), MakeBatch(rng, new long[] { 2, 3, 9, 11 }, 2, 4, 4) };
        var targets = micro.Select(b => randn(b.Idx.shape[0], 3) * 5).ToArray();

        (BagLookup Layer, Parameter Proj) Build(bool rowSparse)
        {
            var layer = new BagLookup(init, rowSparse);
            var proj = new Parameter(projInit.clone(), requires_grad: true);
            for (int i = 0; i < micro.Length; i++)
            {
                using var scope = NewDisposeScope();
                var loss = (layer.Forward(micro[i].Idx, micro[i].W).matmul(proj) - targets[i]).pow(2).sum();
                loss.backward();
            }
            return (layer, proj);
        }

        var (oracleLayer, oracleProj) = Build(false);
        var (dense, denseProj) = Build(false);
        var (sparse, sparseProj) = Build(true);
        const double maxNorm = 1.0;
        double expected = nn.utils.clip_grad_norm_(new[] { oracleLayer.Table, oracleProj }, maxNorm);
        Assert.True(expected > 10 * maxNorm, $"the test needs a gradient that gets clipped (norm {expected})");
        double denseNorm = GradientClipping.ClipGlobalNorm(new[] { dense.Table, denseProj }, Array.Empty<RowSparseGradient>(), maxNorm);
        double sparseNorm = GradientClipping.ClipGlobalNorm(new[] { sparse.Table, sparseProj }, new[] { sparse.Sparse }, maxNorm);
        Assert.Equal(expected, denseNorm, expected * 1e-6);
        Assert.Equal(expected, sparseNorm, expected * 1e-5);

        // scaled in place: the dense parameters' grads and the coalesced row-sparse gradient (what the optimizer reads)
        Assert.True(TestData.MaxAbsDiff(dense.Table.grad!, oracleLayer.Table.grad!) < 1e-7f);
        Assert.True(TestData.MaxAbsDiff(denseProj.grad!, oracleProj.grad!) < 1e-7f);
        Assert.True(TestData.MaxAbsDiff(sparseProj.grad!, oracleProj.grad!) < 1e-6f);
        var (rows, grad) = sparse.Sparse.Coalesce()!.Value;
        Assert.True(TestData.MaxAbsDiff(grad, oracleLayer.Table.grad!.index_select(0, rows)) < 1e-6f);
        double after = Math.Sqrt(grad.pow(2).sum().item<float>() + sparseProj.grad!.pow(2).sum().item<float>());
        Assert.Equal(maxNorm, after, 1e-4);

        // below the threshold nothing is scaled
        var g0 = grad.clone();
        var p0 = sparseProj.grad!.clone();
        double again = GradientClipping.ClipGlobalNorm(new[] { sparse.Table, sparseProj }, new[] { sparse.Sparse }, 100.0);
        Assert.Equal(maxNorm, again, 1e-4);
        Assert.True(Same(g0, sparse.Sparse.Coalesce()!.Value.Grad) && Same(p0, sparseProj.grad!));
        Assert.Equal(
            0.0,
            GradientClipping.ClipGlobalNorm(Array.Empty<Parameter>(), new[] { new RowSparseGradient(new Parameter(zeros(3, 2))) }, 1.0)
        );
    }

    [Fact]
    public void OptimizerStateRoundTripResumesBitwise()
    {
        manual_seed(17);
        var init = randn(14, 3);
        var rng = new Random(8);
        var pool = Enumerable.Range(0, 11).Select(i => (long)i).ToArray(); // rows 11..13 never selected
        var batches = Enumerable
            .Range(0, 5)
            .Select(_ => MakeBatch(rng, pool.OrderBy(_ => rng.Next()).Take(5).ToArray(), 2, 3, 3))
            .ToArray();
        var mult = ValueLearningRate.LinearDecay(2, 5);
        var (straight, straightOpt) = Setup(init, rowSparse: true, weightDecay: 0.1, mult);
        for (int i = 0; i < 4; i++)
            AdamStep(straight, straightOpt, new[] { batches[i] }, 0.02);
        var savedParam = straight.Table.detach().clone();
        var savedState = State(straightOpt);
        long savedSteps = straightOpt.StepCount;
        Assert.Equal(new[] { "exp_avg.values", "exp_avg_sq.values" }, savedState.Keys.OrderBy(k => k, StringComparer.Ordinal));
        Assert.Equal(init.shape, savedState["exp_avg.values"].shape); // full-size moments, like dense AdamW's
        AdamStep(straight, straightOpt, new[] { batches[4] }, 0.02);

        var (resumed, resumedOpt) = Setup(savedParam, rowSparse: true, weightDecay: 0.1, mult);
        resumedOpt.LoadState(savedState, savedSteps, "test");
        AdamStep(resumed, resumedOpt, new[] { batches[4] }, 0.02);
        Assert.True(Same(straight.Table, resumed.Table), "resumed parameters differ");
        var a = State(straightOpt);
        foreach (var (name, t) in State(resumedOpt))
            Assert.True(Same(t, a[name]), $"{name} differs");
        Assert.Equal(straightOpt.StepCount, resumedOpt.StepCount);
    }

    [Fact]
    public void MisuseFailsWithAClearMessage()
    {
        var init = randn(6, 2);
        var layer = new BagLookup(init, rowSparse: true);
        var group = new ParameterGroup { Name = "values", Parameters = new[] { ("values", layer.Table) } };
        var e = Assert.Throws<UltraMemException>(() =>
            new UltraMem.Training.AdamW(new[] { group }, rowSparse: new[] { ("other", layer.Sparse) })
        );
        Assert.Contains("not in any optimizer parameter group", e.Message);
        var wrong = new RowSparseGradient(new Parameter(zeros(5, 2)));
        e = Assert.Throws<UltraMemException>(() => new UltraMem.Training.AdamW(new[] { group }, rowSparse: new[] { ("values", wrong) }));
        Assert.Contains("[5, 2]", e.Message);

        using var opt = new UltraMem.Training.AdamW(new[] { group }, rowSparse: new[] { ("values", layer.Sparse) });
        var batch = new Batch(tensor(new long[] { 0, 1, 1, 4 }).view(2, 2), ones(2, 2), ones(2, 2));
        // gathered rows while the table is not enabled: their gradient would be silently lost
        Backward(layer, batch);
        layer.Sparse.Enabled = false;
        e = Assert.Throws<UltraMemException>(() => opt.Step(0.1));
        Assert.Contains("would be lost", e.Message);
        opt.ZeroGrad();
        Assert.False(layer.Sparse.HasPending);
        // a dense gradient on a table that is enabled
        Backward(layer, batch);
        layer.Sparse.Enabled = true;
        e = Assert.Throws<UltraMemException>(() => opt.Step(0.1));
        Assert.Contains("also has a dense gradient", e.Message);
        Assert.True(Same(layer.Table, init), "a refused step must not change the table");
        Assert.Equal(0, opt.StepCount);

        // an unknown mode can only come from a file now (value_updates is an enum)
        e = Assert.Throws<UltraMemException>(() => TrainConfig.FromJson("""{"value_updates": "sparse"}""", "test").Validate(64));
        Assert.Contains("value_updates must be one of \"dense\", \"row_sparse\" (got \"sparse\")", e.Message);
        var json = new TrainConfig { ValueUpdates = TrainConfig.RowSparseValueUpdates }.ToJson();
        Assert.Contains("\"value_updates\": \"row_sparse\"", json);
        Assert.Equal(ValueUpdates.RowSparse, TrainConfig.FromJson(json, "test").Validate(64).ValueUpdates);
        Assert.Equal(ValueUpdates.Dense, TrainConfig.FromJson("{}", "test").ValueUpdates); // older run folders resume densely
    }
}
