using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UltraMem.Layers;

/// <summary>
/// The quantities variance-matched initialisations need (UltraMemV2's values, PEER's up vectors), computed
/// deterministically: quadrature instead of sampling, and seeded pseudo-random inputs that never touch the global RNG.
/// </summary>
public static class InitMoments
{
    /// <summary>E[f(z)²] for z ~ N(0, std²), by the trapezoid rule on ±10 std (double precision).</summary>
    public static double MeanSquare(Func<Tensor, Tensor> f, double std)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var t = linspace(-10, 10, 20001, dtype: ScalarType.Float64, device: CPU);
        var pdf = (-0.5 * t.square()).exp() / Math.Sqrt(2 * Math.PI);
        var y = f(t * std).square() * pdf;
        return (y.sum() * (20.0 / 20000)).item<double>();
    }

    /// <summary>
    /// Output variance of the model's freshly initialised SwiGLU FFN on unit-variance input:
    /// F · init_std²/(2L) · s² · E[SiLU(z)²], z ~ N(0, s²), s = init_std·√D (gate/up N(0, init_std), down N(0, init_std/√(2L)), width F).
    /// </summary>
    public static double SwiGluOutputVariance(SlotContext m)
    {
        double s = m.InitStd * Math.Sqrt(m.DModel);
        return m.FfnHidden * m.InitStd * m.InitStd / (2.0 * m.NLayers) * s * s * MeanSquare(z => F.silu(z), s);
    }

    /// <summary>Standard normals from <c>new Random(seed)</c> by Box–Muller: the same sequence for the same seed.</summary>
    public static double[] Normals(int count, int seed)
    {
        var rng = new Random(seed);
        var x = new double[count];
        for (int i = 0; i < count; i++)
            x[i] = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        return x;
    }

    /// <summary><see cref="Normals"/> as a float32 tensor of the given shape.</summary>
    public static Tensor NormalTensor(long[] shape, int seed) =>
        tensor(Normals((int)shape.Aggregate(1L, (a, b) => a * b), seed).Select(v => (float)v).ToArray(), shape, device: CPU);
}
