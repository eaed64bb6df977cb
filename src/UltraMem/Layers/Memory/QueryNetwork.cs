using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UltraMem.Layers.Memory;

/// <summary>
/// Causal depthwise convolution over the sequence (UltraMem's "query conv", arXiv:2411.12364): y_t = Σ_k w_k ⊙ x_{t−K+1+k}.
/// Left-padded, so position t sees only positions ≤ t; in decoding the last K−1 inputs are kept in the slot state.
/// Starts as the identity (last tap 1, others 0), so switching it on does not perturb a model at init.
/// </summary>
public sealed class CausalDepthwiseConv : nn.Module
{
    public Parameter weight;   // [D, 1, K]
    readonly int _kernel;
    const string StateKey = "query_conv_tail";

    public CausalDepthwiseConv(int channels, int kernel) : base(nameof(CausalDepthwiseConv))
    {
        _kernel = kernel;
        weight = new Parameter(zeros(channels, 1, kernel));
        RegisterComponents();
        ResetToIdentity();
    }

    public void ResetToIdentity()
    {
        using var _ = no_grad();
        weight.zero_();
        weight[.., .., _kernel - 1].fill_(1.0);
    }

    /// <summary>x [B, T, D] → [B, T, D]. With a state, x continues the sequence seen so far.</summary>
    public Tensor Forward(Tensor x, SlotState? state)
    {
        using var scope = NewDisposeScope();
        var xt = x.transpose(1, 2);                                    // [B, D, T]
        Tensor padded;
        if (_kernel == 1) padded = xt;
        else if (state is null) padded = F.pad(xt, new long[] { _kernel - 1, 0 });
        else
        {
            var tail = state.Tensors.TryGetValue(StateKey, out var t) ? t : zeros(xt.shape[0], xt.shape[1], _kernel - 1, dtype: xt.dtype);
            padded = cat(new[] { tail, xt }, 2);
            var newTail = padded.narrow(2, padded.shape[2] - (_kernel - 1), _kernel - 1).clone().DetachFromDisposeScope();
            if (state.Tensors.TryGetValue(StateKey, out var old)) old.Dispose();
            state.Tensors[StateKey] = newTail;
        }
        var y = F.conv1d(padded, weight, groups: weight.shape[0]);     // [B, D, T]
        return y.transpose(1, 2).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The memory layer's query network: [causal depthwise conv] → q = W_q x + b → norm (LayerNorm over all heads,
/// causal; or PKM's BatchNorm, which mixes the tokens of a batch and is therefore not causal) → [N, Hq·Q, Dk],
/// Q = 1, or r separate queries per head with <c>query_per_rank</c> (UltraMemV2).
/// </summary>
public sealed class QueryNetwork : nn.Module
{
    public CausalDepthwiseConv? query_conv;
    public Linear query_proj;
    public LayerNorm? layer_norm;
    public BatchNorm1d? batch_norm;
    readonly int _heads, _keyDim;

    public QueryNetwork(int dModel, MemoryConfig c) : base(nameof(QueryNetwork))
    {
        _heads = c.QueryHeads * c.QueriesPerHead; _keyDim = c.KeyDim;
        if (c.QueryConv) query_conv = new CausalDepthwiseConv(dModel, c.QueryConvKernel);
        query_proj = nn.Linear(dModel, (long)_heads * _keyDim, hasBias: true);
        if (c.QueryNorm == QueryNorm.LayerNorm) layer_norm = nn.LayerNorm(_heads * _keyDim);
        else if (c.QueryNorm == QueryNorm.BatchNorm) batch_norm = nn.BatchNorm1d(_heads * _keyDim);
        RegisterComponents();
    }

    /// <summary>x [B, T, D] → queries [B·T, Hq·Q, Dk] (head-major: head i's Q queries are adjacent).</summary>
    public Tensor Forward(Tensor x, SlotState? state)
    {
        using var scope = NewDisposeScope();
        var h = query_conv is null ? x : query_conv.Forward(x, state);
        var q = query_proj.forward(h.reshape(-1, h.shape[^1]));        // [N, Hq·Dk]
        if (layer_norm is not null) q = layer_norm.forward(q);
        else if (batch_norm is not null) q = batch_norm.forward(q);
        return q.view(-1, _heads, _keyDim).MoveToOuterDisposeScope();
    }
}
