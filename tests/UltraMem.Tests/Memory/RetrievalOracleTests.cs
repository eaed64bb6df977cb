using UltraMem.Layers.Memory;
using static TorchSharp.torch;

namespace UltraMem.Tests.Memory;

/// <summary>Fast paths of the retrieval against brute force over the full key grid.</summary>
public class RetrievalOracleTests
{
    const int D = 16;

    /// <summary>A TDQKR layer of 3 heads over D = 16 (also the coarse-search tests' base).</summary>
    internal static MemoryConfig Tucker(int n, int m, int r, int h, int? coarse = null) =>
        new()
        {
            NKeys = n,
            Heads = 3,
            TopM = m,
            KeyDim = 8,
            ValueDim = 8 * h,
            ValueProjection = true,
            Retrieval = Retrieval.Tucker,
            TuckerRank = r,
            TuckerCores = h,
            CoarseTop = coarse,
            Softmax = false,
        };

    static long[] SortedRow(Tensor t)
    {
        var a = t.data<long>().ToArray();
        Array.Sort(a);
        return a;
    }

    [Theory]
    [InlineData(12, 5, 2, 1)]
    [InlineData(12, 5, 2, 2)]
    [InlineData(10, 7, 3, 2)]
    [InlineData(9, 4, 1, 1)]
    public void TwoStageTdqkrEqualsBruteForceWhenTheCoarseStageKeepsEveryRow(int n, int m, int r, int h)
    {
        manual_seed(10 + n + r + h);
        using var layer = new MemoryLayer(D, Tucker(n, m, r, h, coarse: n));
        using var _ = no_grad();
        layer.tucker!.tucker_cores.normal_(); // signed cores: the coarse stage must not matter when it keeps all rows
        layer.tucker.RefreshCoarseVectors(keepSign: false);
        var x = randn(2, 7, D);
        var q = layer.query.Forward(x, null);
        var (sRow, sCol) = layer.keys.Scores(q);
        using var fast = layer.tucker.Select(sRow, sCol, m);
        using var slow = BruteForceRetrieval.Select(layer.tucker, sRow, sCol, m);
        Assert.Equal(slow.Addresses.data<long>().ToArray(), fast.Addresses.data<long>().ToArray());
        Assert.True((fast.Scores - slow.Scores).abs().max().item<float>() < 1e-5f);
    }

    [Fact]
    public void WithASmallCoarseStageTheOverlapWithBruteForceIsReported()
    {
        manual_seed(3);
        using var layer = new MemoryLayer(D, Tucker(32, 8, 2, 2, coarse: 8));
        using var _ = no_grad();
        var x = randn(4, 16, D);
        var q = layer.query.Forward(x, null);
        var (sRow, sCol) = layer.keys.Scores(q);
        using var fast = layer.tucker!.Select(sRow, sCol, 8);
        using var slow = BruteForceRetrieval.Select(layer.tucker, sRow, sCol, 8);
        double overlap = Overlap(fast.Addresses, slow.Addresses);
        Console.WriteLine($"TDQKR coarse_top = m = 8 of n = 32: overlap with brute-force top-8 = {overlap:P1}");
        Assert.InRange(overlap, 0.3, 1.0); // rank-1-dominated cores (U(0,1) init): the coarse stage finds most of the true top-m
        // every fast score is a true grid score: the fine stage is exact on its candidates
        var grid = layer.tucker.CoreGrid(sRow, sCol).sum(2).flatten(-2); // [H, N, n²]
        var expected = grid.gather(2, fast.Addresses.transpose(0, 1));
        Assert.True((expected - fast.Scores.sum(-1).transpose(0, 1)).abs().max().item<float>() < 1e-5f);
    }

    static double Overlap(Tensor a, Tensor b)
    {
        var x = a.reshape(-1, a.shape[^1]);
        var y = b.reshape(-1, b.shape[^1]);
        long hit = 0,
            total = 0;
        for (long i = 0; i < x.shape[0]; i++)
        {
            var s = SortedRow(x[i]).ToHashSet();
            hit += SortedRow(y[i]).Count(s.Contains);
            total += x.shape[1];
        }
        return hit / (double)total;
    }

    [Fact]
    public void RankOneTuckerIsProductKeysWithMultiplicativeScores()
    {
        manual_seed(4);
        const int n = 11,
            m = 6;
        using var layer = new MemoryLayer(D, Tucker(n, m, 1, 1, coarse: n));
        using var _ = no_grad();
        var x = randn(2, 5, D);
        var q = layer.query.Forward(x, null);
        var (sRow, sCol) = layer.keys.Scores(q); // [H, N, 1, n]
        using var sel = layer.tucker!.Select(sRow, sCol, m);
        var c = layer.tucker.tucker_cores.view(3, 1, 1, 1); // one scalar core per head
        var grid = (c * sRow.squeeze(2).unsqueeze(-1) * sCol.squeeze(2).unsqueeze(-2)).flatten(-2); // c·s_row[i]·s_col[j]
        var (top, pos) = grid.topk(m, dim: -1);
        Assert.Equal(pos.transpose(0, 1).contiguous().data<long>().ToArray(), sel.Addresses.data<long>().ToArray());
        Assert.True((top.transpose(0, 1) - sel.Scores.squeeze(-1)).abs().max().item<float>() < 1e-5f);
    }

    [Fact]
    public void ProductKeyRetrievalEqualsBruteForceOverTheAdditiveGrid()
    {
        manual_seed(5);
        const int n = 13,
            m = 7;
        using var layer = new MemoryLayer(
            D,
            new MemoryConfig
            {
                NKeys = n,
                Heads = 2,
                TopM = m,
                KeyDim = 8,
            }
        );
        using var _ = no_grad();
        var x = randn(3, 4, D);
        var (sRow, sCol) = layer.keys.Scores(layer.query.Forward(x, null));
        using var sel = ProductKeyRetrieval.Select(sRow, sCol, m);
        var grid = (sRow.squeeze(2).unsqueeze(-1) + sCol.squeeze(2).unsqueeze(-2)).flatten(-2);
        var (top, pos) = grid.topk(m, dim: -1);
        Assert.Equal(pos.transpose(0, 1).contiguous().data<long>().ToArray(), sel.Addresses.data<long>().ToArray());
        Assert.True((top.transpose(0, 1) - sel.Scores.squeeze(-1)).abs().max().item<float>() < 1e-5f);
    }

    public static IEnumerable<object[]> Configs() =>
        new[]
        {
            new object[]
            {
                "pkm",
                new MemoryConfig
                {
                    NKeys = 9,
                    Heads = 2,
                    TopM = 5,
                    KeyDim = 8,
                },
            },
            new object[]
            {
                "ive",
                new MemoryConfig
                {
                    NKeys = 6,
                    Heads = 2,
                    TopM = 5,
                    KeyDim = 8,
                    Expansion = 4,
                    ValueDim = 8,
                },
            },
            new object[] { "tucker-mcs", Tucker(8, 6, 2, 2) },
            new object[]
            {
                "ultramem",
                Tucker(6, 6, 2, 2) with
                {
                    Expansion = 9,
                    ShareQuery = true,
                    Heads = 4,
                    QkNorm = true,
                    QueryConv = true,
                },
            },
        };

    [Theory, MemberData(nameof(Configs))]
    public void SelectedAddressesAreInRangeAndDistinctPerTokenAndHead(string name, MemoryConfig config)
    {
        manual_seed(6);
        using var layer = new MemoryLayer(D, config);
        using var _ = no_grad();
        using var sel = layer.Retrieve(randn(3, 10, D));
        long virtualRows = config.Rows * config.Expansion;
        var a = sel.Addresses.reshape(-1, config.TopM);
        Assert.True(a.min().item<long>() >= 0 && a.max().item<long>() < virtualRows, name);
        for (long i = 0; i < a.shape[0]; i++)
            Assert.Equal(config.TopM, SortedRow(a[i]).Distinct().Count());
        if (layer.ive is not null)
        {
            var (g, p) = layer.ive.Map(sel.Addresses);
            Assert.True(g.min().item<long>() >= 0 && g.max().item<long>() < config.Expansion);
            Assert.True(p.min().item<long>() >= 0 && p.max().item<long>() < config.Rows);
            // π is a permutation: the (group, row) pairs of distinct addresses are distinct
            var pair = (g * config.Rows + p).reshape(-1, config.TopM);
            for (long i = 0; i < pair.shape[0]; i++)
                Assert.Equal(config.TopM, SortedRow(pair[i]).Distinct().Count());
        }
    }

    [Fact]
    public void CoarseVectorsKeepTheirSignAcrossRefreshes()
    {
        manual_seed(7);
        using var layer = new MemoryLayer(D, Tucker(8, 4, 2, 2));
        var t = layer.tucker!;
        var before = t.coarse_u.clone();
        using (no_grad())
            t.tucker_cores.add_(randn_like(t.tucker_cores) * 0.01); // a small optimizer step
        t.RefreshCoarseVectors();
        Assert.True((t.coarse_u * before).sum(1).min().item<float>() > 0, "u flipped sign after a small change of the cores");
        // u tᵀ is the leading rank-1 part of the summed core (positive λ1)
        var sum = t.tucker_cores.sum(1);
        var lead = (t.coarse_u.unsqueeze(2) * sum.matmul(t.coarse_t.unsqueeze(2))).sum(1); // uᵀ C t = λ1 > 0
        Assert.True(lead.min().item<float>() > 0);
    }
}
