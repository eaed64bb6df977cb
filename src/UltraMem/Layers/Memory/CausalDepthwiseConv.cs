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
    public Parameter weight; // [D, 1, K]
    readonly int _kernel;
    const string StateKey = "query_conv_tail";

    public CausalDepthwiseConv(int channels, int kernel)
        : base(nameof(CausalDepthwiseConv))
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
        var xt = x.transpose(1, 2); // [B, D, T]
        Tensor padded;
        if (_kernel == 1)
            padded = xt;
        else if (state is null)
            padded = F.pad(xt, new long[] { _kernel - 1, 0 });
        else
        {
            var tail = state.Tensors.TryGetValue(StateKey, out var t)
                ? t
                : zeros(xt.shape[0], xt.shape[1], _kernel - 1, dtype: xt.dtype, device: xt.device);
            padded = cat(new[] { tail, xt }, 2);
            var newTail = padded.narrow(2, padded.shape[2] - (_kernel - 1), _kernel - 1).clone().DetachFromDisposeScope();
            if (state.Tensors.TryGetValue(StateKey, out var old))
                old.Dispose();
            state.Tensors[StateKey] = newTail;
        }
        var y = F.conv1d(padded, weight, groups: weight.shape[0]); // [B, D, T]
        return y.transpose(1, 2).MoveToOuterDisposeScope();
    }
}
