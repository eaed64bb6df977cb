using TorchSharp.Modules;
using UltraMem.Layers.Memory;
using static TorchSharp.torch;

namespace UltraMem.Training;

/// <summary>Global gradient-norm clipping over dense gradients and row-sparse (coalesced) gradients together.</summary>
public static class GradientClipping
{
    /// <summary>
    /// Clips like <c>torch.nn.utils.clip_grad_norm_</c> (L2): the total norm is
    /// ‖g‖ = sqrt(Σ_p ‖g_p‖²) over every dense <c>.grad</c> and every coalesced row-sparse gradient
    /// (<see cref="RowSparseGradient.Coalesce"/>: duplicate rows already summed, so its norm equals that of the
    /// equivalent dense gradient, which is zero outside the selected rows). If c = maxNorm / (‖g‖ + 1e-6) &lt; 1,
    /// every one of those gradients is multiplied in place by c (the row-sparse ones in their coalesced cache, which
    /// the optimizer reads). Parameters without a gradient and tables without pending rows are skipped.
    /// </summary>
    /// <returns>The total norm before clipping (0 when there is no gradient at all).</returns>
    public static double ClipGlobalNorm(IEnumerable<Parameter> dense, IEnumerable<RowSparseGradient> sparse, double maxNorm)
    {
        if (!(maxNorm > 0))
            throw new UltraMemException($"gradient clipping needs a positive max norm (got {maxNorm})");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var grads = new List<Tensor>();
        foreach (var p in dense)
            if (p.grad is { } g)
                grads.Add(g);
        foreach (var rs in sparse)
            if (rs.Coalesce() is { } c)
                grads.Add(c.Grad);
        if (grads.Count == 0)
            return 0.0;
        // per-tensor norms, then the norm of those, in float32 (as torch does for float32 gradients)
        var total = stack(grads.Select(g => g.norm().to(ScalarType.Float32)).ToArray()).norm();
        var coef = maxNorm / (total + 1e-6);
        if (coef.item<float>() < 1)
            foreach (var g in grads)
                g.mul_(coef);
        return total.item<float>();
    }
}
