using static TorchSharp.torch;

namespace UltraMem.Layers.Memory;

/// <summary>
/// PKM retrieval (Lample et al. 2019, arXiv:1907.05242): top-k of each side, the k×k grid of additive scores
/// s_row[i] + s_col[j], top-k of the grid. Exact: the best sums always come from the per-side top-k.
/// </summary>
public static class ProductKeyRetrieval
{
    public static Selection Select(Tensor sRow, Tensor sCol, int m)
    {
        using var scope = NewDisposeScope();
        long keys = sRow.shape[^1];
        var (v1, i1) = sRow.select(2, 0).topk(m, dim: -1); // [H, N, m]
        var (v2, i2) = sCol.select(2, 0).topk(m, dim: -1);
        var grid = v1.unsqueeze(-1) + v2.unsqueeze(-2); // [H, N, m, m]
        var (top, pos) = grid.flatten(-2).topk(m, dim: -1); // [H, N, m]
        var i = i1.gather(-1, pos.floor_divide(m));
        var j = i2.gather(-1, pos.remainder(m));
        var addresses = (i * keys + j).transpose(0, 1).contiguous(); // [N, H, m]
        var scores = top.transpose(0, 1).unsqueeze(-1).contiguous(); // [N, H, m, 1]
        return new Selection(scores.MoveToOuterDisposeScope(), addresses.MoveToOuterDisposeScope());
    }
}
