using TorchSharp;
using UltraMem.Layers.Peer;
using static TorchSharp.torch;

namespace UltraMem.Tests.Peer;

/// <summary>PEER gradients: finite differences in double, and the row-sparse path against the dense one.</summary>
public class PeerGradientTests
{
    const int D = 10;

    public static IEnumerable<object[]> Configs() =>
        new[]
        {
            new object[] { "softmax-gelu", PeerTestData.Small("softmax", "gelu") },
            new object[] { "sigmoid-silu-qknorm", PeerTestData.Small("sigmoid", "silu", qkNorm: true) },
            new object[] { "relu-relu-nonorm", PeerTestData.Small("relu", "relu", queryNorm: "none") },
            new object[] { "none-none", PeerTestData.Small("none", "none") },
        };

    [Theory, MemberData(nameof(Configs))]
    public void AnalyticGradientsMatchCentralDifferences(string name, PeerConfig config)
    {
        manual_seed(71);
        using var layer = new PeerLayer(D, config);
        layer.to(ScalarType.Float64);
        layer.eval();
        layer.TrackUsage = false;
        var named = TestData.CheckGradientsByCentralDifferences(
            layer,
            new long[] { 2, 3, D },
            name,
            seed: 7,
            absTol: 1e-6,
            relTol: 1e-5,
            requireNonZeroGradient: true
        );
        foreach (
            var required in new[]
            {
                "query.query_proj.weight",
                "query.query_proj.bias",
                "keys.row_keys",
                "keys.col_keys",
                "expert_down.weight",
                "expert_up.weight",
                "input",
            }
        )
            Assert.Contains(required, named);
        if (config.QkNorm)
            Assert.True(named.Contains("keys.q_norm.weight") && named.Contains("keys.k_norm.weight"));
    }

    [Theory]
    [InlineData("softmax", "gelu")]
    [InlineData("sigmoid", "relu")]
    public void RowSparseGradientsOfBothTablesEqualTheDenseGradients(string gate, string activation)
    {
        manual_seed(72);
        var config = PeerTestData.Small(gate, activation) with { NKeys = 7 };
        using var layer = new PeerLayer(D, config);
        layer.train();
        var x = randn(2, 6, D);
        var probe = randn(2, 6, D);
        var denseOut = layer.forward(x);
        (denseOut * probe).sum().backward();
        var dense = layer.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        layer.zero_grad();
        foreach (var (_, rs) in layer.RowSparseTables())
            rs.Enabled = true;
        var sparseOut = layer.forward(x);
        Assert.Equal(0.0, PeerTestData.MaxAbsDiff(denseOut, sparseOut));
        (sparseOut * probe).sum().backward();
        foreach (var (name, rs) in layer.RowSparseTables())
        {
            Assert.True(rs.Table.grad is null || rs.Table.grad.abs().sum().item<float>() == 0, $"{name}: the dense table got a gradient");
            var (rows, grad) = rs.Coalesce()!.Value;
            var scattered = zeros_like(dense[name]).index_put_(grad, new[] { rows });
            Assert.True(
                PeerTestData.MaxAbsDiff(scattered, dense[name]) < 1e-6,
                $"{name}: max diff {PeerTestData.MaxAbsDiff(scattered, dense[name])}"
            );
            Assert.True(rows.shape[0] < config.Experts, $"{name}: the sparse gradient should cover only the selected rows");
            if (activation != "relu") // a ReLU expert with a_i < 0 passes no gradient
                Assert.True(
                    dense[name].index_select(0, rows).abs().sum(1).min().item<float>() > 0,
                    $"{name}: every gathered row has a dense gradient"
                );
            rs.Clear();
        }
        Assert.Equal(new[] { "expert_down.weight", "expert_up.weight" }, layer.RowSparseTables().Select(t => t.Name));
        foreach (var (name, p) in layer.named_parameters().Where(p => !p.name.StartsWith("expert_")))
            Assert.True(PeerTestData.MaxAbsDiff(p.grad!, dense[name]) < 1e-6, $"{name}: the other gradients are the same on both paths");
    }
}
