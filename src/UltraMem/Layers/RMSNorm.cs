using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UltraMem.Layers;

/// <summary>Root-mean-square layer norm: y = x / sqrt(mean(x²) + ε) · g. (TorchSharp has no RMSNorm module.)</summary>
public sealed class RMSNorm : nn.Module<Tensor, Tensor>
{
    public Parameter weight; // g ∈ R^D
    readonly double _eps;

    public RMSNorm(int dim, double eps = 1e-5)
        : base(nameof(RMSNorm))
    {
        _eps = eps;
        weight = new Parameter(ones(dim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var rms = x.pow(2).mean(new long[] { -1 }, keepdim: true).add_(_eps).rsqrt_();
        return (x * rms * weight).MoveToOuterDisposeScope();
    }
}
