using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UltraMem.Layers.Memory;

/// <summary>
/// TDQKR — Tucker-decomposed query-key retrieval with multi-core scoring (UltraMem, arXiv:2411.12364; docs/memory-layers.md, "TDQKR").
/// score_c(i, j) = S_row[:, i]ᵀ · C_c · S_col[:, j] for h cores C_c ∈ R^{r×r} per head; selection uses Σ_c score_c.
/// The n'×n' grid is never formed. Two stages:
/// <list type="number">
/// <item>coarse: u, t = leading left/right singular vectors of Σ_c C_c; keep the top <c>coarse_top</c> rows by uᵀS_row and columns by
/// tᵀS_col (<c>coarse_search: top</c>, the papers'); or also the bottom <c>coarse_top</c> of each (<c>both_ends</c>: the
/// product of two very negative coarse scores is as large); or every row and column (<c>exact</c>);</item>
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
    readonly CoarseSearch _search;

    public TuckerRetrieval(MemoryConfig c)
        : base(nameof(TuckerRetrieval))
    {
        _heads = c.Heads;
        _cores = c.Cores;
        _rank = c.Rank;
        _coarse = c.CoarseTopResolved;
        _search = c.CoarseSearch;
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
        if (_search == CoarseSearch.Exact)
            return SelectExact(sRow, sCol, m, maxScores: 1L << 26);
        using var scope = NewDisposeScope();
        long keys = sRow.shape[^1];
        Tensor ri,
            ci;
        using (no_grad())
        {
            ri = Candidates(sRow, coarse_u); // [H, N, a] candidate rows
            ci = Candidates(sCol, coarse_t); // [H, N, b] candidate columns
        }
        long b = ci.shape[^1];
        var sr = sRow.gather(3, ri.unsqueeze(2).expand(-1, -1, _rank, -1)); // [H, N, r, a]
        var sc = sCol.gather(3, ci.unsqueeze(2).expand(-1, -1, _rank, -1)); // [H, N, r, b]
        var grid = CoreGrid(sr, sc); // [H, N, h, a, b]
        var flat = grid.flatten(-2); // [H, N, h, a·b]
        var (_, pos) = flat.sum(2).topk(m, dim: -1); // [H, N, m]
        var perCore = flat.gather(3, pos.unsqueeze(2).expand(-1, -1, _cores, -1)); // [H, N, h, m]
        var i = ri.gather(-1, pos.floor_divide(b));
        var j = ci.gather(-1, pos.remainder(b));
        var addresses = (i * keys + j).transpose(0, 1).contiguous(); // [N, H, m]
        var scores = perCore.permute(1, 0, 3, 2).contiguous(); // [N, H, m, h]
        return new Selection(scores.MoveToOuterDisposeScope(), addresses.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// <c>exact</c>: the top-m of the whole n'×n' grid, found without gradient in chunks of tokens (≤ 64M scores at a time, so a
    /// large grid never has to be kept for the backward pass), then the m selected scores per core computed again with
    /// gradient. <paramref name="maxScores"/>: the chunk size in scores (tests make it small).
    /// </summary>
    internal Selection SelectExact(Tensor sRow, Tensor sCol, int m, long maxScores)
    {
        using var scope = NewDisposeScope();
        long n = sRow.shape[1],
            keys = sRow.shape[^1];
        Tensor pos; // [H, N, m], i·n' + j
        using (no_grad())
        {
            long chunk = Math.Max(1, maxScores / Math.Max(1, (long)_heads * _cores * keys * keys));
            var parts = new List<Tensor>();
            for (long start = 0; start < n; start += chunk)
            {
                long len = Math.Min(chunk, n - start);
                var grid = CoreGrid(sRow.detach().narrow(1, start, len), sCol.detach().narrow(1, start, len)); // [H, len, h, n', n']
                parts.Add(grid.sum(2).flatten(-2).topk(m, dim: -1).indexes);
            }
            pos = parts.Count == 1 ? parts[0] : cat(parts, 1);
        }
        var i = pos.floor_divide(keys);
        var j = pos.remainder(keys);
        var sr = sRow.gather(3, i.unsqueeze(2).expand(-1, -1, _rank, -1)); // [H, N, r, m]
        var sc = sCol.gather(3, j.unsqueeze(2).expand(-1, -1, _rank, -1)); // [H, N, r, m]
        var right = tucker_cores.to(sr.dtype).unsqueeze(1).matmul(sc.unsqueeze(2)); // C_c S_col[:, j]   [H, N, h, r, m]
        var perCore = (sr.unsqueeze(2) * right).sum(3); // S_row[:, i]ᵀ C_c S_col[:, j]   [H, N, h, m]
        var addresses = pos.transpose(0, 1).contiguous(); // [N, H, m]
        var scores = perCore.permute(1, 0, 3, 2).contiguous(); // [N, H, m, h]
        return new Selection(scores.MoveToOuterDisposeScope(), addresses.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The coarse stage for one side: key scores s [H, N, r, n'] and the side's singular vector v [H, r] → indices [H, N, c]
    /// of the keys the fine stage scores (distinct; c = coarse_top, 2·coarse_top or n', capped at n').
    /// </summary>
    Tensor Candidates(Tensor s, Tensor v)
    {
        using var scope = NewDisposeScope();
        long heads = s.shape[0],
            n = s.shape[1],
            keys = s.shape[^1];
        int mc = (int)Math.Min(_coarse, keys);
        bool all = _search == CoarseSearch.BothEnds && 2L * mc >= keys;
        if (all)
            return arange(keys, dtype: ScalarType.Int64, device: s.device).expand(heads, n, keys).contiguous().MoveToOuterDisposeScope();
        var coarse = (s.detach() * v.to(s.dtype).view(_heads, 1, _rank, 1)).sum(2); // [H, N, n']
        var (_, top) = coarse.topk(mc, dim: -1);
        if (_search == CoarseSearch.Top)
            return top.MoveToOuterDisposeScope();
        // the bottom mc of the keys not already kept (2·mc < n'), so no candidate appears twice even among ties
        var (_, bottom) = coarse
            .scatter(-1, top, full(top.shape, float.PositiveInfinity, dtype: coarse.dtype, device: coarse.device))
            .topk(mc, dim: -1, largest: false);
        return cat(new[] { top, bottom }, -1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Share of the exact top-m (over the whole n'×n' grid of Σ_c scores) that a search found — <paramref name="found"/>, the
    /// addresses [N, H, m] <see cref="Select"/> returned for S_row, S_col [H, N, r, n'] — per token and head, averaged over the
    /// first <paramref name="tokens"/> tokens.
    /// </summary>
    public double Recall(Tensor sRow, Tensor sCol, Tensor found, long tokens)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        long n = Math.Min(tokens, sRow.shape[1]),
            m = found.shape[^1];
        var r = sRow.detach().narrow(1, 0, n);
        var c = sCol.detach().narrow(1, 0, n);
        var (_, pos) = CoreGrid(r, c).sum(2).flatten(-2).topk((int)m, dim: -1); // [H, n, m], pos = i·n' + j
        var exact = pos.transpose(0, 1); // [n, H, m]
        var hit = (exact.unsqueeze(-1) == found.narrow(0, 0, n).unsqueeze(-2)).any(-1); // [n, H, m]
        return hit.to(ScalarType.Float64).mean().item<double>();
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
