using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UltraMem.Layers.Memory;

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
    readonly int _heads,
        _keyDim;

    public QueryNetwork(int dModel, MemoryConfig c)
        : base(nameof(QueryNetwork))
    {
        _heads = c.QueryHeads * c.QueriesPerHead;
        _keyDim = c.KeyDim;
        if (c.QueryConv)
            query_conv = new CausalDepthwiseConv(dModel, c.QueryConvKernel);
        query_proj = nn.Linear(dModel, (long)_heads * _keyDim, hasBias: true);
        if (c.QueryNorm == QueryNorm.LayerNorm)
            layer_norm = nn.LayerNorm(_heads * _keyDim);
        else if (c.QueryNorm == QueryNorm.BatchNorm)
            batch_norm = nn.BatchNorm1d(_heads * _keyDim);
        RegisterComponents();
    }

    /// <summary>x [B, T, D] → queries [B·T, Hq·Q, Dk] (head-major: head i's Q queries are adjacent).</summary>
    public Tensor Forward(Tensor x, SlotState? state)
    {
        using var scope = NewDisposeScope();
        var h = query_conv is null ? x : query_conv.Forward(x, state);
        var q = query_proj.forward(h.reshape(-1, h.shape[^1])); // [N, Hq·Dk]
        if (layer_norm is not null)
            q = layer_norm.forward(q);
        else if (batch_norm is not null)
            q = batch_norm.forward(q);
        return q.view(-1, _heads, _keyDim).MoveToOuterDisposeScope();
    }
}
