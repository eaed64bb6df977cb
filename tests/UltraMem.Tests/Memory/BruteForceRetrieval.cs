using UltraMem.Layers.Memory;
using static TorchSharp.torch;

namespace UltraMem.Tests.Memory;

/// <summary>The oracle for TDQKR's two-stage search: the exact top-m over the full n'×n' grid of Σ_c scores (O(n'²) per token).</summary>
static class BruteForceRetrieval
{
    /// <summary>Scores [N, H, m, h] and addresses [N, H, m] of the exact top-m of <paramref name="tucker"/>'s summed core scores.</summary>
    public static Selection Select(TuckerRetrieval tucker, Tensor sRow, Tensor sCol, int m)
    {
        using var scope = NewDisposeScope();
        long cores = tucker.tucker_cores.shape[1]; // tucker_cores [H, h, r, r]
        var flat = tucker.CoreGrid(sRow, sCol).flatten(-2); // [H, N, h, n'²]
        var (_, pos) = flat.sum(2).topk(m, dim: -1);
        var perCore = flat.gather(3, pos.unsqueeze(2).expand(-1, -1, cores, -1));
        var addresses = pos.transpose(0, 1).contiguous(); // pos = i·n' + j already
        var scores = perCore.permute(1, 0, 3, 2).contiguous();
        return new Selection(scores.MoveToOuterDisposeScope(), addresses.MoveToOuterDisposeScope());
    }
}
