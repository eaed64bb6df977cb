using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UltraMem.Layers.Memory;

/// <summary>
/// TDQKR — Tucker-decomposed query-key retrieval with multi-core scoring (UltraMem, arXiv:2411.12364; docs/memory-layers.md, "TDQKR").
/// score_c(i, j) = S_row[:, i]ᵀ · C_c · S_col[:, j] for h cores C_c ∈ R^{r×r} per head; selection uses Σ_c score_c.
/// The n'×n' grid is never formed. Two stages:
/// <list type="number">
/// <item>coarse: u, t = leading left/right singular vectors of Σ_c C_c; keep the top <c>coarse_top</c> rows by uᵀS_row and columns by
/// tᵀS_col;</item>
/// <item>fine: exact scores on that candidate grid, final top-m.</item>
/// </list>
/// u and t are buffers refreshed from an SVD once per optimizer step (<see cref="RefreshCoarseVectors"/>), detached,
/// with the sign chosen closest to the previous step's (the SVD's ±(u, t) ambiguity would otherwise flip the coarse
/// stage to the bottom rows).
/// </summary>
public sealed class TuckerRetrieval : nn.Module
{
    public Parameter tucker_cores; // [H, h, r, r]
    public Tensor coarse_u; // [H, r] buffer
    public Tensor coarse_t; // [H, r] buffer
    readonly int _heads,
        _cores,
        _rank,
        _coarse;

    public TuckerRetrieval(MemoryConfig c)
        : base(nameof(TuckerRetrieval))
    {
        _heads = c.Heads;
        _cores = c.Cores;
        _rank = c.Rank;
        _coarse = c.CoarseTopResolved;
        tucker_cores = new Parameter(rand(_heads, _cores, _rank, _rank)); // U(0, 1), the reference code's init
        coarse_u = zeros(_heads, _rank);
        coarse_t = zeros(_heads, _rank);
        RegisterComponents();
        RefreshCoarseVectors(keepSign: false);
    }

    /// <summary>u, t ← leading singular vectors of the summed cores (no gradient), sign kept consistent with the previous ones.</summary>
    public void RefreshCoarseVectors(bool keepSign = true)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var sum = tucker_cores.detach().sum(1).to(ScalarType.Float64); // [H, r, r]
        var (u, _, vh) = linalg.svd(sum, fullMatrices: false);
        var u0 = u.select(2, 0); // [H, r]
        var t0 = vh.select(1, 0); // [H, r]
        Tensor sign;
        if (keepSign && coarse_u.abs().sum().item<float>() > 0)
            sign = (u0 * coarse_u.to(ScalarType.Float64)).sum(1, keepdim: true).sign(); // closest to the previous u
        else
        { // first time: make the largest-magnitude component of u positive
            var idx = u0.abs().argmax(1, keepdim: true);
            sign = u0.gather(1, idx).sign();
        }
        sign = where(sign == 0, ones_like(sign), sign);
        coarse_u.copy_(u0 * sign);
        coarse_t.copy_(t0 * sign);
    }

    /// <summary>(S_row, S_col) [H, N, r, n'] → top-m selection with per-core scores.</summary>
    public Selection Select(Tensor sRow, Tensor sCol, int m)
    {
        using var scope = NewDisposeScope();
        long n = sRow.shape[1],
            keys = sRow.shape[^1];
        int mc = (int)Math.Min(_coarse, keys);
        var cu = coarse_u.to(sRow.dtype).view(_heads, 1, _rank, 1);
        var ct = coarse_t.to(sRow.dtype).view(_heads, 1, _rank, 1);
        Tensor ri,
            ci;
        using (no_grad())
        {
            (_, ri) = (sRow.detach() * cu).sum(2).topk(mc, dim: -1); // [H, N, m'] candidate rows
            (_, ci) = (sCol.detach() * ct).sum(2).topk(mc, dim: -1); // candidate columns
        }
        var sr = sRow.gather(3, ri.unsqueeze(2).expand(-1, -1, _rank, -1)); // [H, N, r, m']
        var sc = sCol.gather(3, ci.unsqueeze(2).expand(-1, -1, _rank, -1));
        var grid = CoreGrid(sr, sc); // [H, N, h, m', m']
        var flat = grid.flatten(-2); // [H, N, h, m'²]
        var (_, pos) = flat.sum(2).topk(m, dim: -1); // [H, N, m]
        var perCore = flat.gather(3, pos.unsqueeze(2).expand(-1, -1, _cores, -1)); // [H, N, h, m]
        var i = ri.gather(-1, pos.floor_divide(mc));
        var j = ci.gather(-1, pos.remainder(mc));
        var addresses = (i * keys + j).transpose(0, 1).contiguous(); // [N, H, m]
        var scores = perCore.permute(1, 0, 3, 2).contiguous(); // [N, H, m, h]
        return new Selection(scores.MoveToOuterDisposeScope(), addresses.MoveToOuterDisposeScope());
    }

    /// <summary>Per-core score grid S_rowᵀ C_c S_col: sr [H, N, r, a], sc [H, N, r, b] → [H, N, h, a, b].</summary>
    public Tensor CoreGrid(Tensor sr, Tensor sc)
    {
        using var scope = NewDisposeScope();
        var cores = tucker_cores.to(sr.dtype).unsqueeze(1); // [H, 1, h, r, r]
        var right = cores.matmul(sc.unsqueeze(2)); // [H, N, h, r, b]
        var grid = sr.unsqueeze(2).transpose(-1, -2).matmul(right); // [H, N, h, a, b]
        return grid.MoveToOuterDisposeScope();
    }

    /// <summary>Singular values of the summed core per head, [H, r] descending (λ1, λ2, …).</summary>
    public Tensor SingularValues()
    {
        using var _ = no_grad();
        return linalg.svdvals(tucker_cores.detach().sum(1).to(ScalarType.Float64));
    }

    /// <summary>
    /// Tucker auxiliary loss (UltraMem, arXiv:2411.12364): α/(r−1) · Σ_{i≥2} max(0, λ_i − τ)², summed over heads and cores,
    /// on the singular values of each core; keeps every core near rank 1 without collapsing it.
    /// </summary>
    public Tensor AuxiliaryLoss(double tau, double alpha)
    {
        using var scope = NewDisposeScope();
        var sv = linalg.svdvals(tucker_cores); // [H, h, r]
        var tail = sv.narrow(-1, 1, _rank - 1);
        var loss = (tail - tau).clamp_min(0).pow(2).sum() * (alpha / (_rank - 1));
        return loss.MoveToOuterDisposeScope();
    }
}
