using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UltraMem.Layers.Memory;

/// <summary>
/// The two key sets of a product-key memory, per head: row keys and column keys, each n' × Dk/2, with a rank
/// dimension r for TDQKR (r = 1 for plain product keys). Scores a query's row half against the row keys and its
/// column half against the column keys: S_row[ρ, i] = ⟨q_row, K_row[ρ, i]⟩, S_col likewise (arXiv:1907.05242; TDQKR: arXiv:2411.12364).
/// With query/key norm, each query half and every key is layer-normalised over Dk/2 first.
/// </summary>
public sealed class ProductKeys : nn.Module
{
    public Parameter row_keys; // [H, r, n', Dk/2]
    public Parameter col_keys; // [H, r, n', Dk/2]
    public LayerNorm? q_norm; // over Dk/2, no bias
    public LayerNorm? k_norm;
    readonly int _heads,
        _rank,
        _keys,
        _half;

    public ProductKeys(MemoryConfig c)
        : base(nameof(ProductKeys))
    {
        _heads = c.Heads;
        _rank = c.Rank;
        _keys = c.VirtualKeys;
        _half = c.KeyDim / 2;
        row_keys = new Parameter(empty(_heads, _rank, _keys, _half));
        col_keys = new Parameter(empty(_heads, _rank, _keys, _half));
        if (c.QkNorm)
        {
            q_norm = nn.LayerNorm(_half, bias: false);
            k_norm = nn.LayerNorm(_half, bias: false);
        }
        RegisterComponents();
    }

    /// <summary>
    /// q [N, H, Dk] (one query for every rank) or [N, H, r, Dk] (a separate query per Tucker rank, UltraMemV2)
    /// → (S_row, S_col), each [H, N, r, n'].
    /// </summary>
    public (Tensor Row, Tensor Col) Scores(Tensor q)
    {
        using var scope = NewDisposeScope();
        long n = q.shape[0];
        bool perRank = q.dim() == 4;
        if (perRank && q.shape[2] != _rank)
            throw new ArgumentException($"per-rank queries must have {_rank} ranks, got {q.shape[2]}");
        var qh = perRank ? q.permute(1, 2, 0, 3) : q.transpose(0, 1); // [H, r, N, Dk] or [H, N, Dk]
        int last = (int)qh.dim() - 1;
        var qRow = qh.narrow(last, 0, _half);
        var qCol = qh.narrow(last, _half, _half);
        Tensor kRow = row_keys,
            kCol = col_keys;
        if (q_norm is not null && k_norm is not null)
        {
            qRow = q_norm.forward(qRow);
            qCol = q_norm.forward(qCol);
            kRow = k_norm.forward(kRow);
            kCol = k_norm.forward(kCol);
        }
        Tensor sRow,
            sCol;
        if (perRank)
        { // S[ρ, i] = ⟨q_ρ, K[ρ, i]⟩: [H, r, N, Dk/2] @ [H, r, Dk/2, n'] → [H, r, N, n'] → [H, N, r, n']
            sRow = qRow.matmul(kRow.transpose(2, 3)).permute(0, 2, 1, 3).contiguous();
            sCol = qCol.matmul(kCol.transpose(2, 3)).permute(0, 2, 1, 3).contiguous();
        }
        else
        { // [H, N, Dk/2] @ [H, Dk/2, r·n'] → [H, N, r·n']
            sRow = qRow.matmul(kRow.reshape(_heads, _rank * _keys, _half).transpose(1, 2)).view(_heads, n, _rank, _keys);
            sCol = qCol.matmul(kCol.reshape(_heads, _rank * _keys, _half).transpose(1, 2)).view(_heads, n, _rank, _keys);
        }
        return (sRow.MoveToOuterDisposeScope(), sCol.MoveToOuterDisposeScope());
    }
}
