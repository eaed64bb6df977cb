using TorchSharp;
using UltraMem.Architectures;
using UltraMem.IO;
using UltraMem.Layers.Memory;
using UltraMem.Layers.Peer;
using UltraMem.Model;
using static TorchSharp.torch;

namespace UltraMem.Tests.Peer;

/// <summary>The PEER layer against naive references: per-expert sums, brute-force retrieval, its own accounting and init.</summary>
public class PeerOracleTests
{
    readonly Xunit.Abstractions.ITestOutputHelper _out;

    public PeerOracleTests(Xunit.Abstractions.ITestOutputHelper output) => _out = output;

    const int D = 10;

    [Fact]
    public void ErfReferenceIsAccurate()
    {
        // known values: erf(0.5), erf(1), erf(2), erf(3.5)
        Assert.Equal(0.5204998778130465, PeerTestData.Erf(0.5), 14);
        Assert.Equal(0.8427007929497149, PeerTestData.Erf(1.0), 14);
        Assert.Equal(-0.9953222650189527, PeerTestData.Erf(-2.0), 14);
        Assert.Equal(0.9999992569016276, PeerTestData.Erf(3.5), 14);
    }

    /// <summary>
    /// Shifts every head's router scores by a constant so that the selected scores straddle 0 (ReLU and raw gates then
    /// differ): query_norm none, row-half component 0 of each head's query fixed to β (zero weights, bias β) and every
    /// row key's component 0 set to 1, so each score gains β while the selection is unchanged.
    /// </summary>
    static void CentreScores(PeerLayer layer, Tensor x)
    {
        var c = layer.Options;
        using var _ = no_grad();
        for (int h = 0; h < c.Heads; h++)
        {
            layer.query.query_proj.weight![h * c.KeyDim].zero_();
            layer.query.query_proj.bias![h * c.KeyDim] = 0.0;
            layer.keys.row_keys[h, 0, .., 0].fill_(1.0);
        }
        using var sel = layer.Retrieve(x);
        double median = sel.Scores.flatten().median().to(ScalarType.Float64).item<double>();
        for (int h = 0; h < c.Heads; h++)
            layer.query.query_proj.bias![h * c.KeyDim] = -median;
    }

    public static IEnumerable<object[]> GatesAndActivations() =>
        from g in JsonEnum.Names(typeof(PeerGate))
        from a in JsonEnum.Names(typeof(PeerActivation))
        select new object[] { g, a };

    [Theory, MemberData(nameof(GatesAndActivations))]
    public void OutputEqualsTheNaivePerExpertSum(string gate, string activation)
    {
        manual_seed(61);
        using var layer = new PeerLayer(D, PeerTestData.Small(gate, activation, queryNorm: "none"));
        layer.to(ScalarType.Float64);
        layer.eval();
        using var _ = no_grad();
        var x = randn(new long[] { 2, 5, D }, dtype: ScalarType.Float64);
        layer.expert_up.weight.normal_(); // unit-scale values and queries (the init's are tiny)
        layer.query.query_proj.weight!.normal_(0, 1 / Math.Sqrt(D));
        CentreScores(layer, x);
        var output = layer.forward(x).reshape(-1, D).data<double>().ToArray();
        using var sel = layer.Retrieve(x);
        var c = layer.Options;
        long tokens = 10,
            h = c.Heads,
            k = c.TopK;
        var idx = sel.Addresses.data<long>().ToArray(); // [T, h, k]
        var scores = sel.Scores.data<double>().ToArray(); // [T, h, k, 1]
        Assert.Contains(scores, s => s < 0);
        Assert.Contains(scores, s => s > 0);
        var u = layer.expert_down.weight.data<double>().ToArray();
        var v = layer.expert_up.weight.data<double>().ToArray();
        var xs = x.reshape(-1, D).data<double>().ToArray();
        var expected = new double[tokens * D];
        int negativePreactivations = 0;
        for (long t = 0; t < tokens; t++)
        for (long hd = 0; hd < h; hd++)
        {
            var s = Enumerable.Range(0, (int)k).Select(i => scores[(t * h + hd) * k + i]).ToArray();
            var g = PeerTestData.Gates(gate, s);
            for (long i = 0; i < k; i++)
            {
                long e = idx[(t * h + hd) * k + i];
                double a = 0;
                for (int d = 0; d < D; d++)
                    a += u[e * D + d] * xs[t * D + d]; // u_iᵀx
                if (a < 0)
                    negativePreactivations++;
                double w = g[i] * PeerTestData.Activation(activation, a);
                for (int d = 0; d < D; d++)
                    expected[t * D + d] += w * v[e * D + d];
            }
        }
        Assert.True(negativePreactivations > 0);
        double maxDiff = output.Zip(expected, (p, q) => Math.Abs(p - q)).Max();
        Assert.True(maxDiff < 1e-12, $"{gate}/{activation}: max diff {maxDiff:E3}");
        Assert.True(expected.Max(Math.Abs) > 0.1, "the reference output should not be trivially zero");
    }

    [Theory]
    [InlineData("layernorm", false)]
    [InlineData("layernorm", true)]
    [InlineData("none", true)]
    public void SelectedExpertsEqualBruteForceTopKOverAllAdditiveScores(string queryNorm, bool qkNorm)
    {
        manual_seed(62);
        var config = new PeerConfig
        {
            NKeys = 13,
            Heads = 3,
            TopK = 7,
            KeyDim = 8,
            QueryNorm = JsonEnum.Parse<QueryNorm>(queryNorm),
            QkNorm = qkNorm,
        };
        using var layer = new PeerLayer(D, config);
        using var _ = no_grad();
        var x = randn(3, 4, D);
        using var sel = layer.Retrieve(x);
        // the N = n² additive scores s_row[i] + s_col[j] of every expert i·n + j, from the raw parameters
        var q = layer.query.query_proj.forward(x.reshape(-1, D));
        if (queryNorm == "layernorm")
            q = layer.query.layer_norm!.forward(q);
        q = q.view(12, 3, 8);
        var qRow = q.narrow(2, 0, 4);
        var qCol = q.narrow(2, 4, 4);
        Tensor kRow = layer.keys.row_keys.squeeze(1),
            kCol = layer.keys.col_keys.squeeze(1); // [h, n, Dk/2]
        if (qkNorm)
        {
            qRow = layer.keys.q_norm!.forward(qRow);
            qCol = layer.keys.q_norm.forward(qCol);
            kRow = layer.keys.k_norm!.forward(kRow);
            kCol = layer.keys.k_norm.forward(kCol);
        }
        var sRow = einsum("thd,hnd->thn", qRow, kRow);
        var sCol = einsum("thd,hnd->thn", qCol, kCol);
        var all = (sRow.unsqueeze(-1) + sCol.unsqueeze(-2)).flatten(-2); // [T, h, N]
        Assert.Equal(config.Experts, all.shape[2]);
        var (top, pos) = all.topk(config.TopK, dim: -1);
        Assert.Equal(pos.data<long>().ToArray(), sel.Addresses.data<long>().ToArray());
        Assert.True(PeerTestData.MaxAbsDiff(top, sel.Scores.squeeze(-1)) < 1e-5);
    }

    [Fact]
    public void LastDistinctExpertsCountsTheExpertsOfTheLastForward()
    {
        manual_seed(63);
        using var layer = new PeerLayer(D, PeerTestData.Small());
        Assert.Equal(0, layer.LastDistinctExperts);
        using var _ = no_grad();
        var x = randn(2, 6, D);
        layer.forward(x);
        using var sel = layer.Retrieve(x);
        var ids = sel.Addresses.data<long>().ToArray();
        Assert.Equal(ids.Distinct().LongCount(), layer.LastDistinctExperts);
        layer.forward(x.narrow(1, 0, 1).narrow(0, 0, 1)); // one token: h·k distinct experts at most
        long one = layer.LastDistinctExperts;
        Assert.InRange(one, layer.Options.TopK, layer.Options.Heads * layer.Options.TopK);
        Assert.True(one < ids.Distinct().Count());
    }

    [Theory]
    [InlineData("layernorm", false)]
    [InlineData("batchnorm", true)]
    [InlineData("none", false)]
    public void AccountingMatchesTheParametersAndTheFormula(string queryNorm, bool qkNorm)
    {
        var config = new PeerConfig
        {
            NKeys = 9,
            Heads = 2,
            TopK = 5,
            KeyDim = 6,
            QueryNorm = JsonEnum.Parse<QueryNorm>(queryNorm),
            QkNorm = qkNorm,
        };
        using var layer = new PeerLayer(D, config);
        var count = layer.Count();
        Assert.Equal(count, PeerLayer.Accounting(config, D));
        Assert.Equal(layer.parameters().Sum(p => p.numel()), count.Total);
        long dense = count.Total - 2 * 81 * D;
        Assert.Equal(dense + 2 * 5 * 2 * D, count.Activated); // + h·k·2·D
        long retrievalFlops = 2 * D * 2 * 6 + 2 * 2 * 2 * 9 * 3 + 2 * 5 * 5;
        Assert.Equal(retrievalFlops + 2 * 5 * 4 * D, count.FlopsPerToken);
    }

    [Fact]
    public void DefaultSizingHoldsAboutTenTimesTheDenseParametersInTheExpertTables()
    {
        var model = ModelConfig.Preset("tiny", 512);
        var peer = PeerConfig.DefaultFor(model).Validate(model.DModel);
        double ratio = 2.0 * peer.Experts * model.DModel / MemoryPresets.DenseNonEmbeddingParameters(model);
        Assert.InRange(ratio, 9, 11);
        Assert.Equal(64, peer.KeyDim);
        using var lm = new TransformerLM(model with { MemoryLayers = new() { SlotPlacement.Parse("1!", "peer") } });
        Assert.Equal(peer, Assert.IsType<PeerLayer>(lm.memory_layers[0]).Options);
    }

    public static IEnumerable<object[]> InitCases() =>
        new[]
        {
            new object[] { "softmax", "gelu" },
            new object[] { "sigmoid", "silu" },
            new object[] { "relu", "relu" },
            new object[] { "none", "none" },
        };

    /// <summary>
    /// The variance-matched init: at init the PEER layer's output std on unit-RMS input is within 2× of the std of the
    /// SwiGLU FFN of the same freshly built model (tiny preset, FFN width 352) on the same input.
    /// </summary>
    [Theory, MemberData(nameof(InitCases))]
    public void OutputStdAtInitMatchesTheModelsFfn(string gate, string activation)
    {
        manual_seed(64);
        var model = ModelConfig.Preset("tiny", 512) with { Dropout = 0 };
        var peer = PeerConfig.DefaultFor(model) with
        {
            Gate = JsonEnum.Parse<PeerGate>(gate),
            Activation = JsonEnum.Parse<PeerActivation>(activation),
        };
        using var lm = new TransformerLM(model with { MemoryLayers = new() { SlotPlacement.Parse("1", "peer") with { Peer = peer } } });
        lm.eval();
        using var _ = no_grad();
        var x = randn(4, 64, model.DModel);
        x = x / x.square().mean(new long[] { -1 }, keepdim: true).sqrt();
        double ffn = lm.layers[1].mlp!.forward(x).std().item<float>();
        double layer = lm.memory_layers[0].forward(x).std().item<float>();
        _out.WriteLine($"{gate}/{activation}: PEER output std {layer:E3}, FFN output std {ffn:E3}, ratio {layer / ffn:F2}");
        Assert.InRange(layer / ffn, 0.5, 2.0);
    }
}
