using System.Numerics;
using static TorchSharp.torch;

namespace UltraMem.Training;

/// <summary>
/// The AdamW update in one pass over the tensors' memory: each element of p, m, v and g is read once and p, m, v written
/// once (7 floats of traffic per parameter, against ~20 and a full-size temporary for the chain of torch ops), split over
/// the threads in blocks. Every element goes through the float32 operations of the op chain of
/// <see cref="AdamW.ReferenceUpdate"/>, in its order and with its roundings — torch's <c>lerp_</c> and <c>addcmul_</c> are
/// fused multiply-adds, <c>addcdiv_</c> computes (value·m)/d — so m and v are bitwise equal to the op chain's (tested).
/// The one difference is √v: torch's vectorised float32 square root is not correctly rounded (it differs from IEEE
/// √ by one unit in the last place on ~14% of elements here), this kernel's is; p therefore differs from the op chain's by
/// at most a few units in the last place, and a training run is no longer bitwise equal to one recorded with the op chain.
/// <code>
///   p ← p·(1 − lr·λ);  m ← fma(1−β1, g − m, m);  v ← fma((1−β2)·g, g, v·β2);  p ← p + (−lr/(1−β1^t))·m / (√v / √(1−β2^t) + ε)
/// </code>
/// </summary>
public static unsafe class FusedAdamWKernel
{
    /// <summary>Whether the tensors can take the fused path: float32 on the CPU, contiguous, of one size.</summary>
    public static bool Applies(Tensor p, Tensor m, Tensor v, Tensor g) =>
        new[] { p, m, v, g }.All(Platform.TensorMemory.IsFloatArray)
        && m.numel() == p.numel()
        && v.numel() == p.numel()
        && g.numel() == p.numel();

    /// <summary>Updates <paramref name="p"/>, <paramref name="m"/> and <paramref name="v"/> in place (see the class summary).</summary>
    public static void Update(
        Tensor p,
        Tensor m,
        Tensor v,
        Tensor g,
        double lr,
        double weightDecay,
        double beta1,
        double beta2,
        double eps,
        double bc1,
        double bc2Sqrt
    )
    {
        if (!Applies(p, m, v, g))
            throw new ArgumentException("the fused AdamW kernel takes contiguous float32 CPU tensors of one size");
        long n = p.numel();
        if (n == 0)
            return;
        var k = new Constants(
            weightDecay != 0 ? (float)(1 - lr * weightDecay) : 1f,
            weightDecay != 0,
            (float)(1 - beta1),
            (float)beta2,
            (float)(1 - beta2),
            (float)bc2Sqrt,
            (float)eps,
            (float)(-lr / bc1)
        );
        float* pp = Platform.TensorMemory.Floats(p),
            mp = Platform.TensorMemory.Floats(m),
            vp = Platform.TensorMemory.Floats(v),
            gp = Platform.TensorMemory.Floats(g);
        const long block = 1 << 16; // 256 KB of each tensor per block: large enough to amortise, small enough to balance
        long blocks = (n + block - 1) / block;
        int threads = Math.Max(1, Math.Min(get_num_threads(), Environment.ProcessorCount));
        if (blocks == 1 || threads == 1)
            Run(pp, mp, vp, gp, 0, n, k);
        else
            Parallel.For(
                0,
                blocks,
                new ParallelOptions { MaxDegreeOfParallelism = threads },
                b => Run(pp, mp, vp, gp, b * block, Math.Min(n, (b + 1) * block), k)
            );
        GC.KeepAlive(p);
        GC.KeepAlive(m);
        GC.KeepAlive(v);
        GC.KeepAlive(g);
    }

    readonly record struct Constants(
        float Decay,
        bool Decays,
        float OneMinusBeta1,
        float Beta2,
        float OneMinusBeta2,
        float Bc2Sqrt,
        float Eps,
        float Step
    );

    static void Run(float* p, float* m, float* v, float* g, long from, long to, Constants k)
    {
        long i = from;
        int w = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            var decay = new Vector<float>(k.Decay);
            var w1 = new Vector<float>(k.OneMinusBeta1);
            var b2 = new Vector<float>(k.Beta2);
            var c2 = new Vector<float>(k.OneMinusBeta2);
            var bc2 = new Vector<float>(k.Bc2Sqrt);
            var eps = new Vector<float>(k.Eps);
            var step = new Vector<float>(k.Step);
            for (; i + w <= to; i += w)
            {
                var pv = Vector.Load(p + i);
                var mv = Vector.Load(m + i);
                var vv = Vector.Load(v + i);
                var gv = Vector.Load(g + i);
                if (k.Decays)
                    pv *= decay;
                mv = Vector.FusedMultiplyAdd(w1, gv - mv, mv);
                vv = Vector.FusedMultiplyAdd(c2 * gv, gv, vv * b2);
                var denom = Vector.SquareRoot(vv) / bc2 + eps;
                pv += step * mv / denom;
                pv.Store(p + i);
                mv.Store(m + i);
                vv.Store(v + i);
            }
        }
        for (; i < to; i++)
        {
            float pe = p[i],
                me = m[i],
                ve = v[i],
                ge = g[i];
            if (k.Decays)
                pe *= k.Decay;
            me = MathF.FusedMultiplyAdd(k.OneMinusBeta1, ge - me, me);
            ve = MathF.FusedMultiplyAdd(k.OneMinusBeta2 * ge, ge, ve * k.Beta2);
            float denom = MathF.Sqrt(ve) / k.Bc2Sqrt + k.Eps;
            pe += k.Step * me / denom;
            p[i] = pe;
            m[i] = me;
            v[i] = ve;
        }
    }
}
