using UltraMem.Layers;
using static TorchSharp.torch;

namespace UltraMem.Tests.Model;

/// <summary>The decoding matrix-vector kernel against libtorch's linear: values within float32 rounding, and who takes which path.</summary>
public class SmallBatchLinearTests
{
    [Theory]
    [InlineData(1, 7, 1)]
    [InlineData(1, 384, 1024)]
    [InlineData(3, 1000, 33)]
    [InlineData(4, 64, 8192)]
    public void EqualsLinearWithinRounding(int rows, int k, int n)
    {
        manual_seed(rows * 1000 + k);
        var x = randn(rows, 1, k);
        var w = randn(n, k) / Math.Sqrt(k);
        using var _ = no_grad();
        Assert.True(SmallBatchLinear.Applies(x, w));
        var fast = SmallBatchLinear.Kernel(x, w);
        var reference = nn.functional.linear(x.to(ScalarType.Float64), w.to(ScalarType.Float64));
        Assert.Equal(new long[] { rows, 1, n }, fast.shape);
        double err = (fast.to(ScalarType.Float64) - reference).abs().max().item<double>();
        Assert.True(err < 1e-5, $"max error {err}");
    }

    [Fact]
    public void GradientsManyRowsOtherTypesAndBiasesTakeLibtorch()
    {
        var w = randn(8, 16);
        Assert.False(SmallBatchLinear.Applies(randn(1, 16), w)); // gradient mode on: training keeps autograd
        using var _ = no_grad();
        Assert.True(SmallBatchLinear.Applies(randn(4, 16), w));
        Assert.False(SmallBatchLinear.Applies(randn(5, 16), w)); // above MaxRows
        Assert.False(SmallBatchLinear.Applies(randn(16, 2).t(), w)); // not contiguous
        Assert.False(SmallBatchLinear.Applies(randn(1, 16, dtype: ScalarType.Float64), w));
        using var biased = nn.Linear(16, 8, hasBias: true);
        var x = randn(1, 16);
        Assert.True(TestData.MaxAbsDiff(biased.forward(x), SmallBatchLinear.Forward(biased, x)) == 0); // the layer itself ran
    }
}
