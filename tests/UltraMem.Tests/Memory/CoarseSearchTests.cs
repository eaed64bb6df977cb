using UltraMem.Layers.Memory;
using UltraMem.Model;
using static TorchSharp.torch;

namespace UltraMem.Tests.Memory;

/// <summary>
/// TDQKR's coarse search (<see cref="CoarseSearch"/>) against the brute-force top-m over the whole grid: <c>exact</c> equals it
/// (indices, values, gradients), <c>both_ends</c> finds it on near-rank-1 cores where the papers' <c>top</c> misses the
/// (−, −) corner, and evaluation reports the recall.
/// </summary>
public class CoarseSearchTests
{
    const int D = 16;

    static MemoryConfig Tucker(int n, int m, int r, int h, int? coarse, CoarseSearch search) =>
        RetrievalOracleTests.Tucker(n, m, r, h, coarse) with
        {
            CoarseSearch = search,
        };

    /// <summary>Makes every head's summed core nearly rank 1 (a·bᵀ plus <paramref name="noise"/>), with signed factors.</summary>
    static void NearRankOne(TuckerRetrieval t, double noise)
    {
        using var _ = no_grad();
        var c = t.tucker_cores; // [H, h, r, r]
        long heads = c.shape[0],
            cores = c.shape[1],
            r = c.shape[2];
        var a = randn(heads, 1, r, 1);
        var b = randn(heads, 1, 1, r);
        c.copy_((a * b / cores).expand(heads, cores, r, r) + noise * randn(heads, cores, r, r));
        t.RefreshCoarseVectors(keepSign: false);
    }

    static (Tensor SRow, Tensor SCol) Scores(MemoryLayer layer, Tensor x) => layer.keys.Scores(layer.query.Forward(x, null));

    static double Recall(Selection found, Selection exact)
    {
        var hit = (exact.Addresses.unsqueeze(-1) == found.Addresses.unsqueeze(-2)).any(-1);
        return hit.to(ScalarType.Float64).mean().item<double>();
    }

    [Theory]
    [InlineData(12, 5, 2, 1, 1L << 26)]
    [InlineData(10, 7, 3, 2, 1L << 26)]
    [InlineData(16, 8, 2, 2, 3 * 2 * 256 * 3)] // chunks of 3 tokens
    [InlineData(9, 4, 1, 1, 1)] // one token at a time
    public void ExactSearchEqualsBruteForceInIndicesValuesAndGradients(int n, int m, int r, int h, long maxScores)
    {
        manual_seed(20 + n + r + h);
        using var layer = new MemoryLayer(D, Tucker(n, m, r, h, coarse: null, CoarseSearch.Exact));
        using (no_grad())
            layer.tucker!.tucker_cores.normal_(); // signed cores: any corner of the grid can hold the top
        var x = randn(2, 7, D);
        var (sRow, sCol) = Scores(layer, x);
        var w = randn(14, 3, m, h);

        var fast = layer.tucker!.SelectExact(sRow, sCol, m, maxScores);
        var fastGrads = autograd.grad(
            new[] { (fast.Scores * w).sum() },
            new[] { sRow, sCol, layer.tucker.tucker_cores },
            retain_graph: true
        );
        var slow = BruteForceRetrieval.Select(layer.tucker, sRow, sCol, m);
        var slowGrads = autograd.grad(new[] { (slow.Scores * w).sum() }, new[] { sRow, sCol, layer.tucker.tucker_cores });

        Assert.Equal(slow.Addresses.data<long>().ToArray(), fast.Addresses.data<long>().ToArray());
        Assert.True((fast.Scores - slow.Scores).abs().max().item<float>() < 1e-5f);
        for (int k = 0; k < 3; k++)
            Assert.True((fastGrads[k] - slowGrads[k]).abs().max().item<float>() < 1e-4f, $"gradient {k}");
        // the public path is the same search
        using var _ = no_grad();
        Assert.Equal(slow.Addresses.data<long>().ToArray(), layer.tucker.Select(sRow, sCol, m).Addresses.data<long>().ToArray());
    }

    [Theory]
    [InlineData(32, 8, 2, 1)]
    [InlineData(40, 8, 2, 2)]
    [InlineData(48, 16, 3, 2)]
    public void BothEndsFindsTheExactTopMOnNearRankOneCoresWhereTopMissesACorner(int n, int m, int r, int h)
    {
        manual_seed(30 + n + h);
        using var both = new MemoryLayer(D, Tucker(n, m, r, h, coarse: m, CoarseSearch.BothEnds));
        using var top = new MemoryLayer(D, Tucker(n, m, r, h, coarse: m, CoarseSearch.Top));
        NearRankOne(both.tucker!, noise: 0.01);
        top.load_state_dict(both.state_dict());
        top.tucker!.RefreshCoarseVectors(keepSign: false);
        using var _ = no_grad();
        var (sRow, sCol) = Scores(both, randn(4, 32, D));
        var exact = BruteForceRetrieval.Select(both.tucker!, sRow, sCol, m);
        double recallBoth = Recall(both.tucker!.Select(sRow, sCol, m), exact);
        double recallTop = Recall(top.tucker.Select(sRow, sCol, m), exact);
        Console.WriteLine($"n'={n} m={m} r={r} h={h}: recall both_ends {recallBoth:P1}, top {recallTop:P1}");
        Assert.True(recallBoth >= 0.98, $"both_ends recall {recallBoth:P1}");
        Assert.True(recallTop < 0.9, $"top recall {recallTop:P1}: the (−, −) corner should be missed"); // about half the corners
        // every score both_ends returns is the true grid score of its address
        var grid = both.tucker!.CoreGrid(sRow, sCol).sum(2).flatten(-2);
        var sel = both.tucker.Select(sRow, sCol, m);
        Assert.True((grid.gather(2, sel.Addresses.transpose(0, 1)) - sel.Scores.sum(-1).transpose(0, 1)).abs().max().item<float>() < 1e-5f);
    }

    [Fact]
    public void BothEndsGradientsEqualBruteForceWhereItFindsTheSameRows()
    {
        manual_seed(41);
        const int n = 24,
            m = 6;
        using var layer = new MemoryLayer(D, Tucker(n, m, 2, 2, coarse: m, CoarseSearch.BothEnds));
        NearRankOne(layer.tucker!, noise: 0.0);
        var (sRow, sCol) = Scores(layer, randn(2, 5, D));
        var w = randn(10, 3, m, 2);
        var fast = layer.tucker!.Select(sRow, sCol, m);
        var slow = BruteForceRetrieval.Select(layer.tucker, sRow, sCol, m);
        // same set of rows per token and head; order them alike before comparing values and gradients
        var (fa, fi) = fast.Addresses.sort(-1);
        var (sa, si) = slow.Addresses.sort(-1);
        Assert.Equal(sa.data<long>().ToArray(), fa.data<long>().ToArray());
        var fs = fast.Scores.gather(2, fi.unsqueeze(-1).expand(-1, -1, -1, 2));
        var ss = slow.Scores.gather(2, si.unsqueeze(-1).expand(-1, -1, -1, 2));
        Assert.True((fs - ss).abs().max().item<float>() < 1e-5f);
        var g1 = autograd.grad(new[] { (fs * w).sum() }, new[] { sRow, sCol, layer.tucker.tucker_cores }, retain_graph: true);
        var g2 = autograd.grad(new[] { (ss * w).sum() }, new[] { sRow, sCol, layer.tucker.tucker_cores });
        for (int k = 0; k < 3; k++)
            Assert.True((g1[k] - g2[k]).abs().max().item<float>() < 1e-4f, $"gradient {k}");
    }

    [Fact]
    public void EvaluationReportsTheRecallOfTheExactTopMAndTheTopOneWeight()
    {
        manual_seed(50);
        var config = Tucker(32, 8, 2, 1, coarse: 8, CoarseSearch.Top) with { Softmax = true };
        using var layer = new MemoryLayer(D, config);
        NearRankOne(layer.tucker!, noise: 0.01);
        var x = randn(2, 20, D);
        layer.eval();
        using (no_grad())
            layer.forward(x);
        var d = layer.Diagnostics(reset: true);
        using (no_grad())
        {
            var (sRow, sCol) = Scores(layer, x);
            double expected = Recall(layer.tucker!.Select(sRow, sCol, 8), BruteForceRetrieval.Select(layer.tucker, sRow, sCol, 8));
            Assert.Equal(expected, d["retrieval_recall"], 6);
            Assert.True(expected < 1.0); // the near-rank-1 cores put some of the top in the unsearched corner
            var sel = layer.Retrieve(x);
            Assert.Equal(sel.Scores.sum(-1).softmax(2).amax(-1).mean().item<float>(), d["top1_weight"], 4);
            Assert.InRange(d["top1_weight"], 1.0 / 8, 1.0);
        }
        // training passes do not pay for the brute force
        layer.train();
        layer.Diagnostics(reset: true);
        layer.forward(x).sum().backward();
        Assert.False(layer.Diagnostics(reset: true).ContainsKey("retrieval_recall"));
    }

    [Fact]
    public void CoarseSearchIsConfiguredByNameCountedAndRefusedWithoutTucker()
    {
        var json = new ModelConfig
        {
            DModel = 32,
            NLayers = 2,
            NHeads = 2,
            MemoryLayers = new()
            {
                new SlotPlacement
                {
                    Kind = "ultramem",
                    ReadAt = 0,
                    AddAfter = 1,
                    Memory = Tucker(16, 4, 2, 1, coarse: 4, CoarseSearch.BothEnds) with { Heads = 2 },
                },
            },
        }.ToJson();
        Assert.Contains("\"coarse_search\": \"both_ends\"", json);
        Assert.Equal(CoarseSearch.BothEnds, ModelConfig.FromJson(json).MemoryLayers[0].Memory!.CoarseSearch);
        // the papers' default is not written, so configs written before the switch keep their hash
        Assert.DoesNotContain("coarse_search", json.Replace("\"coarse_search\": \"both_ends\"", "").Replace(" ", ""));
        Assert.DoesNotContain("coarse_search", new ModelConfig().ToJson());
        var e = Assert.Throws<UltraMemException>(() => new MemoryConfig { CoarseSearch = CoarseSearch.Exact }.Validate(32));
        Assert.Contains("coarse_search needs retrieval = tucker", e.Message);
        // FLOPs: the fine stage scores (2·coarse_top)² candidates, or n'² for exact
        var top = Tucker(64, 8, 2, 1, coarse: 8, CoarseSearch.Top);
        long Flops(MemoryConfig c) => MemoryAccounting.Count(c, D).FlopsPerToken;
        long fine(long a) => 2L * 3 * 1 * (2 * 2 * a + 2 * a * a);
        Assert.Equal(fine(16) - fine(8), Flops(top with { CoarseSearch = CoarseSearch.BothEnds }) - Flops(top));
        Assert.Equal(fine(64) - fine(8), Flops(top with { CoarseSearch = CoarseSearch.Exact }) - Flops(top));
    }
}
