using System.Numerics;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UltraMem.Layers;

/// <summary>
/// y = x·Wᵀ for a handful of tokens (decoding), streaming W once. With one to a few rows, a linear layer is a matrix-vector
/// product bound by reading W; from memory libtorch streams these shapes at ~16 GB/s here (one row; less for 2–8 rows), while
/// one core reads ~26 GB/s (bench/DecodeProfile). This kernel reads each row of W once for all the input rows (kept in cache),
/// on the calling thread: handing half of a ~100 µs product to a pooled thread costs more than it saves (the pool's wake-up),
/// measured at 13 GB/s with two threads.
/// <para>
/// Used only where no gradient is needed (decoding, evaluation under <c>no_grad</c>) and for float32 CPU tensors; anything
/// else goes to <c>nn.functional.linear</c>. The sums are in another order than libtorch's, so results differ from it in the
/// last bits (tested within 1e-6 relative).
/// </para>
/// </summary>
public static unsafe class SmallBatchLinear
{
    /// <summary>Inputs with at most this many rows take the kernel (above it libtorch's matrix-matrix product is faster; bench/DecodeProfile).</summary>
    public const int MaxRows = 4;

    /// <summary><paramref name="layer"/>(<paramref name="x"/>): the kernel when it applies, else the layer itself.</summary>
    public static Tensor Forward(Linear layer, Tensor x) =>
        layer.bias is null && Applies(x, layer.weight!) ? Kernel(x, layer.weight!) : layer.forward(x);

    /// <summary>x·<paramref name="weight"/>ᵀ: the kernel when it applies, else <c>nn.functional.linear</c>.</summary>
    public static Tensor Forward(Tensor x, Tensor weight) => Applies(x, weight) ? Kernel(x, weight) : nn.functional.linear(x, weight);

    /// <summary>No gradient wanted, float32 contiguous CPU tensors, x [..., K] with at most <see cref="MaxRows"/> rows, W [N, K].</summary>
    public static bool Applies(Tensor x, Tensor weight) =>
        // cheapest and most selective first: this runs before every linear of every forward pass
        !is_grad_enabled()
        && weight.dim() == 2
        && x.numel() is var n
        && n > 0
        && n <= MaxRows * weight.shape[1]
        && x.dim() >= 1
        && x.shape[^1] == weight.shape[1]
        && Platform.TensorMemory.IsFloatArray(x)
        && Platform.TensorMemory.IsFloatArray(weight);

    /// <summary>The product itself (callers check <see cref="Applies"/>): y [..., N].</summary>
    public static Tensor Kernel(Tensor x, Tensor weight)
    {
        long k = weight.shape[1],
            n = weight.shape[0],
            m = x.numel() / k;
        var shape = x.shape.ToArray();
        shape[^1] = n;
        var y = empty(shape, dtype: ScalarType.Float32, device: CPU);
        float* xp = Platform.TensorMemory.Floats(x),
            wp = Platform.TensorMemory.Floats(weight),
            yp = Platform.TensorMemory.Floats(y);
        Rows(xp, wp, yp, m, k, n, 0, n);
        GC.KeepAlive(x);
        GC.KeepAlive(weight);
        return y;
    }

    /// <summary>y[i, r] = ⟨x[i], W[r]⟩ for rows r in [from, to) and every input row i.</summary>
    static void Rows(float* x, float* w, float* y, long m, long k, long n, long from, long to)
    {
        int width = Vector<float>.Count;
        for (long r = from; r < to; r++)
        {
            float* wr = w + r * k;
            for (long i = 0; i < m; i++)
            {
                float* xi = x + i * k;
                var acc0 = Vector<float>.Zero;
                var acc1 = Vector<float>.Zero;
                long j = 0;
                for (; j + 2 * width <= k; j += 2 * width)
                {
                    acc0 = Vector.FusedMultiplyAdd(Vector.Load(wr + j), Vector.Load(xi + j), acc0);
                    acc1 = Vector.FusedMultiplyAdd(Vector.Load(wr + j + width), Vector.Load(xi + j + width), acc1);
                }
                for (; j + width <= k; j += width)
                    acc0 = Vector.FusedMultiplyAdd(Vector.Load(wr + j), Vector.Load(xi + j), acc0);
                float sum = Vector.Sum(acc0 + acc1);
                for (; j < k; j++)
                    sum += wr[j] * xi[j];
                y[i * n + r] = sum;
            }
        }
    }
}
