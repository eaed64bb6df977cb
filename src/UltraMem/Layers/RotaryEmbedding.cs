using static TorchSharp.torch;

namespace UltraMem.Layers;

/// <summary>
/// Rotary position embedding tables (RoPE, Su et al.), "rotate-half" convention as in LLaMA/HF:
/// for head dim d, frequencies θ_i = base^(−2i/d), i &lt; d/2, and
/// RoPE(x, p) = x·cos(pθ) + rotate_half(x)·sin(pθ), rotate_half([x1, x2]) = [−x2, x1].
/// Not a module: the tables are derived from the config and are not part of the state dict.
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    readonly Tensor _cos,
        _sin; // [maxLen, d]
    public int MaxLength { get; }

    public RotaryEmbedding(int headDim, int maxLength, double theta)
    {
        MaxLength = maxLength;
        using var scope = NewDisposeScope();
        var inv = pow(theta, arange(0, headDim, 2, dtype: float64, device: CPU) / headDim).reciprocal(); // [d/2]
        var pos = arange(maxLength, dtype: float64, device: CPU);
        var freqs = outer(pos, inv); // [T, d/2]
        var emb = cat(new[] { freqs, freqs }, -1); // [T, d]
        _cos = emb.cos().to(float32).MoveToOuterDisposeScope();
        _sin = emb.sin().to(float32).MoveToOuterDisposeScope();
    }

    /// <summary>Applies RoPE to x [B, H, T, d] for absolute positions start … start+T−1.</summary>
    public Tensor Apply(Tensor x, int start)
    {
        long t = x.shape[2];
        if (start + t > MaxLength)
            throw new UltraMemException($"sequence position {start + t} exceeds max_seq_len {MaxLength}");
        using var scope = NewDisposeScope();
        var cos = _cos.narrow(0, start, t).to(x.dtype, x.device);
        var sin = _sin.narrow(0, start, t).to(x.dtype, x.device);
        long half = x.shape[3] / 2;
        var rotated = cat(new[] { -x.narrow(-1, half, half), x.narrow(-1, 0, half) }, -1);
        return (x * cos + rotated * sin).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _cos.Dispose();
        _sin.Dispose();
    }
}
