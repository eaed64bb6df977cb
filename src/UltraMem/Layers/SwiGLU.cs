using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UltraMem.Layers;

/// <summary>SwiGLU feed-forward (Shazeer 2020): down(SiLU(gate(x)) ⊙ up(x)).</summary>
public sealed class SwiGLU : FeedForwardSlot
{
    public Linear gate_proj,
        up_proj,
        down_proj;
    readonly int _dim,
        _hidden;

    public SwiGLU(int dim, int hidden)
        : base(nameof(SwiGLU))
    {
        _dim = dim;
        _hidden = hidden;
        gate_proj = nn.Linear(dim, hidden, hasBias: false);
        up_proj = nn.Linear(dim, hidden, hasBias: false);
        down_proj = nn.Linear(hidden, dim, hasBias: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var g = SmallBatchLinear.Forward(gate_proj, x); // decoding a few tokens: one pass over W (SmallBatchLinear)
        using var u = SmallBatchLinear.Forward(up_proj, x);
        using var h = F.silu(g);
        h.mul_(u); // SiLU's backward needs its input g, so its output may be reused
        return SmallBatchLinear.Forward(down_proj, h);
    }

    public override ParameterCount Count() => Accounting(_dim, _hidden);

    /// <summary>The default inner width for residual width <paramref name="dim"/>: 8/3·D rounded up to a multiple of 32.</summary>
    public static int DefaultHidden(int dim) => (int)Math.Ceiling(8.0 * dim / 3 / 32) * 32;

    /// <summary>gate, up (D → F) and down (F → D): all read by every token.</summary>
    public static ParameterCount Accounting(int dim, int hidden) =>
        ParameterCount.Dense(dim, hidden) + ParameterCount.Dense(dim, hidden) + ParameterCount.Dense(hidden, dim);
}
