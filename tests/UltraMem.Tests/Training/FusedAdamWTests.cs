using UltraMem.Training;
using static TorchSharp.torch;

namespace UltraMem.Tests.Training;

/// <summary>
/// The one-pass AdamW kernel against the op chain it replaces (torch's AdamW update, op by op): the moments bitwise, the
/// parameters within a few units in the last place (torch's vectorised √ is not correctly rounded, the kernel's is).
/// </summary>
public class FusedAdamWTests
{
    [Theory]
    [InlineData(1, 0.1, 1L)]
    [InlineData(7, 0.0, 3L)] // no weight decay
    [InlineData(1_000_003, 0.1, 20L)] // many blocks, a ragged tail
    [InlineData(65_536 * 3 + 5, 0.01, 1000L)]
    public void EqualsTheOpChain(long n, double weightDecay, long t)
    {
        manual_seed(n);
        var p = randn(n);
        var m = randn(n) * 0.01;
        var v = rand(n) * 1e-4;
        var g = randn(n) * 0.1;
        g[0] = 0; // a zero gradient and a zero second moment
        v[0] = 0;
        var (p2, m2, v2, p0) = (p.clone(), m.clone(), v.clone(), p.clone());
        double lr = 3e-3,
            beta1 = 0.9,
            beta2 = 0.95,
            eps = 1e-8;
        double bc1 = 1 - Math.Pow(beta1, t),
            bc2 = Math.Sqrt(1 - Math.Pow(beta2, t));
        AdamW.ReferenceUpdate(p, m, v, g, lr, weightDecay, beta1, beta2, eps, bc1, bc2);
        FusedAdamWKernel.Update(p2, m2, v2, g, lr, weightDecay, beta1, beta2, eps, bc1, bc2);
        Assert.Equal(0L, (m != m2).sum().item<long>());
        Assert.Equal(0L, (v != v2).sum().item<long>());
        // one ulp of √v changes the step by ~2^-23 of it, then p rounds: |Δp| ≤ 2^-22 · (|p| + |step|)
        var bound = (p.abs() + (p - p0).abs()) * Math.Pow(2, -22);
        var over = ((p - p2).abs() - bound).max().item<float>();
        Assert.True(over <= 0, $"the kernel's p differs from the op chain's by {over} more than 2^-22·(|p| + |step|)");
    }

    [Fact]
    public void OtherTensorsTakeTheOpChain()
    {
        var p = randn(4, 6).t(); // not contiguous
        Assert.False(FusedAdamWKernel.Applies(p, zeros(6, 4), zeros(6, 4), zeros(6, 4)));
        Assert.False(FusedAdamWKernel.Applies(randn(3, dtype: ScalarType.Float64), zeros(3), zeros(3), zeros(3)));
        Assert.Throws<ArgumentException>(() =>
            FusedAdamWKernel.Update(p, zeros(6, 4), zeros(6, 4), zeros(6, 4), 1, 0, 0.9, 0.95, 1e-8, 1, 1)
        );
    }
}
