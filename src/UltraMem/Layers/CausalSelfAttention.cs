using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UltraMem.Layers;

/// <summary>
/// Multi-head causal self-attention with RoPE through <c>scaled_dot_product_attention</c>.
/// Parameter names follow the LLaMA/HF convention (<c>q_proj</c>, <c>k_proj</c>, <c>v_proj</c>, <c>o_proj</c>).
/// </summary>
public sealed class CausalSelfAttention : nn.Module
{
    public Linear q_proj,
        k_proj,
        v_proj,
        o_proj;
    readonly int _heads,
        _headDim;
    readonly double _dropout;

    public CausalSelfAttention(int dModel, int heads, double dropout)
        : base(nameof(CausalSelfAttention))
    {
        _heads = heads;
        _headDim = dModel / heads;
        _dropout = dropout;
        q_proj = nn.Linear(dModel, dModel, hasBias: false);
        k_proj = nn.Linear(dModel, dModel, hasBias: false);
        v_proj = nn.Linear(dModel, dModel, hasBias: false);
        o_proj = nn.Linear(dModel, dModel, hasBias: false);
        RegisterComponents();
    }

    /// <summary>
    /// x [B, T, D] at absolute positions start … start+T−1. With a cache, the new keys/values are written
    /// at those positions and attention covers the cached prefix too.
    /// </summary>
    public Tensor Forward(Tensor x, RotaryEmbedding rope, AttentionCache? cache, int start)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0],
            t = x.shape[1];
        Tensor Heads(Linear proj) => SmallBatchLinear.Forward(proj, x).view(b, t, _heads, _headDim).transpose(1, 2); // [B, H, T, d]
        var q = rope.Apply(Heads(q_proj), start);
        var k = rope.Apply(Heads(k_proj), start);
        var v = Heads(v_proj);
        double p = training ? _dropout : 0.0;
        Tensor y;
        if (cache is null)
        {
            if (start != 0)
                throw new InvalidOperationException("an offset start needs a KV cache");
            y = F.scaled_dot_product_attention(q, k, v, p: p, is_casual: true);
        }
        else
        {
            cache.Keys.narrow(2, start, t).copy_(k);
            cache.Values.narrow(2, start, t).copy_(v);
            long total = start + t;
            var keys = cache.Keys.narrow(2, 0, total);
            var values = cache.Values.narrow(2, 0, total);
            if (t == 1)
                y = F.scaled_dot_product_attention(q, keys, values, p: p);
            else if (start == 0)
                y = F.scaled_dot_product_attention(q, keys, values, p: p, is_casual: true);
            else
            {
                // query i (absolute start+i) sees keys j <= start+i: bottom-right aligned causal mask.
                var mask = arange(total, device: x.device).unsqueeze(0) <= (arange(t, device: x.device) + start).unsqueeze(1); // [T, total]
                y = F.scaled_dot_product_attention(q, keys, values, attn_mask: mask, p: p);
            }
        }
        y = y.transpose(1, 2).reshape(b, t, _heads * _headDim);
        return SmallBatchLinear.Forward(o_proj, y).MoveToOuterDisposeScope();
    }
}
