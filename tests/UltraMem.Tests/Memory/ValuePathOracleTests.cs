using UltraMem.Layers.Memory;
using static TorchSharp.torch;

namespace UltraMem.Tests.Memory;

/// <summary>The fused value lookup (EmbeddingBag, MCS chunk view, IVE bags) against naive and materialised references.</summary>
public class ValuePathOracleTests
{
    const int D = 12;

    /// <summary>Naive reference: per token, per selected item, per chunk, add w_c · V[row][chunk c] into its group's slot.</summary>
    static Tensor NaivePool(Tensor values, Tensor rows, Tensor? groups, Tensor weights, int expansion)
    {
        long n = rows.shape[0],
            s = rows.shape[1],
            h = weights.shape[2],
            dv = values.shape[1],
            w = dv / h;
        var v = values.to(ScalarType.Float64).data<double>().ToArray();
        var r = rows.data<long>().ToArray();
        var g = groups?.data<long>().ToArray();
        var wt = weights.to(ScalarType.Float64).data<double>().ToArray();
        var o = new double[n * expansion * dv];
        for (long t = 0; t < n; t++)
        for (long i = 0; i < s; i++)
        {
            long row = r[t * s + i],
                grp = g?[t * s + i] ?? 0;
            for (long c = 0; c < h; c++)
            for (long k = c * w; k < (c + 1) * w; k++)
                o[(t * expansion + grp) * dv + k] += wt[(t * s + i) * h + c] * v[row * dv + k];
        }
        return tensor(o, new[] { n, expansion * dv }).to(ScalarType.Float32);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 2)]
    [InlineData(4, 1)]
    [InlineData(4, 3)]
    public void FusedPoolEqualsNaivePerChunkWeightedSums(int expansion, int cores)
    {
        manual_seed(20 + expansion + cores);
        using var table = new ValueTable(30, 6 * cores);
        using var _ = no_grad();
        table.weight.normal_();
        var rows = randint(0, 30, new long[] { 5, 7 });
        rows[0, 1] = rows[0, 0]; // a repeated row within a token
        var groups = expansion > 1 ? randint(0, expansion, new long[] { 5, 7 }) : null;
        var weights = randn(5, 7, cores);
        var fast = table.Pool(rows, groups, weights, expansion);
        Assert.True(TestData.MaxAbsDiff(fast, NaivePool(table.weight, rows, groups, weights, expansion)) < 1e-5f);
    }

    [Fact]
    public void ImplicitValueExpansionEqualsALookupInTheMaterialisedVirtualTable()
    {
        manual_seed(21);
        var config = new MemoryConfig
        {
            NKeys = 5,
            Heads = 2,
            TopM = 4,
            KeyDim = 8,
            Expansion = 4,
            ValueDim = 6,
            Softmax = false,
        };
        using var layer = new MemoryLayer(D, config);
        using var _ = no_grad();
        var x = randn(2, 3, D);
        var output = layer.forward(x).reshape(-1, D);
        using var sel = layer.Retrieve(x);
        // Ṽ = [V W_1; …; V W_E]: rows g·N + p hold V[p] projected by group g's slice of value_proj
        long n = config.Rows,
            dv = 6;
        var w = layer.value_proj!.weight!; // [D, E·Dv]
        var virt = cat(Enumerable.Range(0, 4).Select(g => layer.Values.weight.matmul(w.narrow(1, g * dv, dv).t())).ToArray(), 0); // [E·N, D]
        var pi = layer.ive!.permutation.index_select(0, sel.Addresses.flatten()); // π(v) = g·N + p
        var rowsOfVirt = virt.index_select(0, pi).view(6, 2 * 4, D);
        var expected = (rowsOfVirt * sel.Scores.reshape(6, 8, 1)).sum(1);
        Assert.True(TestData.MaxAbsDiff(output, expected) < 1e-5f, $"max diff {TestData.MaxAbsDiff(output, expected)}");
        Assert.Equal(4 * n, virt.shape[0]);
    }

    [Fact]
    public void MultiCoreScoringWeightsEachValueChunkByItsOwnCore()
    {
        manual_seed(22);
        var config = new MemoryConfig
        {
            NKeys = 6,
            Heads = 2,
            TopM = 5,
            KeyDim = 8,
            ValueDim = 12,
            Retrieval = Retrieval.Tucker,
            TuckerRank = 2,
            TuckerCores = 3,
            Softmax = false,
            ValueProjection = false,
        };
        using var layer = new MemoryLayer(D, config);
        using var _ = no_grad();
        var x = randn(2, 4, D);
        var output = layer.forward(x).reshape(-1, D);
        using var sel = layer.Retrieve(x); // scores [N, H, m, h]
        var v = layer.Values.weight;
        var rows = v.index_select(0, sel.Addresses.flatten()).view(8, 10, 3, 4); // [N, H·m, h, Dv/h]
        var expected = (rows * sel.Scores.reshape(8, 10, 3, 1)).sum(1).reshape(8, 12); // chunk c: Σ_i s_i^(c) V[i][chunk c]
        Assert.True(TestData.MaxAbsDiff(output, expected) < 1e-5f);
    }

    [Fact]
    public void SoftmaxSwitchNormalisesEachHeadsScores()
    {
        manual_seed(23);
        var config = new MemoryConfig
        {
            NKeys = 6,
            Heads = 2,
            TopM = 4,
            KeyDim = 8,
            Softmax = true,
        };
        using var layer = new MemoryLayer(D, config);
        using var _ = no_grad();
        var x = randn(1, 3, D);
        var output = layer.forward(x).reshape(-1, D);
        using var sel = layer.Retrieve(x);
        var w = sel.Scores.softmax(2).reshape(3, 8, 1);
        var expected = (layer.Values.weight.index_select(0, sel.Addresses.flatten()).view(3, 8, D) * w).sum(1);
        Assert.True(TestData.MaxAbsDiff(output, expected) < 1e-5f);
    }

    [Fact]
    public void RowSparseGradientEqualsTheDenseGradientOnTheSelectedRows()
    {
        manual_seed(24);
        var config = new MemoryConfig
        {
            NKeys = 7,
            Heads = 2,
            TopM = 5,
            KeyDim = 8,
            Expansion = 4,
            ValueDim = 6,
            Retrieval = Retrieval.Tucker,
            TuckerCores = 2,
        };
        using var layer = new MemoryLayer(D, config);
        layer.train();
        var x = randn(2, 6, D);
        var probe = randn(2, 6, D);
        (layer.forward(x) * probe).sum().backward();
        var dense = layer.Values.weight.grad!.clone();
        layer.zero_grad();
        layer.Values.Sparse.Enabled = true;
        (layer.forward(x) * probe).sum().backward();
        Assert.Null(layer.Values.weight.grad is { } g && g.abs().sum().item<float>() > 0 ? g : null); // no dense gradient
        var (rows, grad) = layer.Values.Sparse.Coalesce()!.Value;
        var scattered = zeros_like(dense).index_put_(grad, new[] { rows });
        Assert.True(TestData.MaxAbsDiff(scattered, dense) < 1e-6f);
        Assert.True(rows.shape[0] < config.Rows, "the sparse gradient should cover only the selected rows");
        layer.Values.Sparse.Clear();
    }
}
