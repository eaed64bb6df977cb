namespace UltraMem.Layers.Memory;

/// <summary>Parameters and FLOPs of a memory layer from its config alone: no table is allocated, so huge layers are sized in
/// microseconds.</summary>
public static class MemoryAccounting
{
    /// <summary>
    /// Total parameters, parameters read per token (everything but the tables, plus the H·m selected rows of values
    /// and pre-values) and forward FLOPs per token of a layer with config <paramref name="c"/>, from the config alone
    /// (no table allocated). A shared table is not in the total (the model counts it once, see <see cref="SharedTableParameters"/>).
    /// </summary>
    public static ParameterCount Count(MemoryConfig c, int dModel)
    {
        long d = dModel,
            hq = c.QueryHeads,
            q = c.QueriesPerHead,
            dk = c.KeyDim,
            h = c.Heads,
            keysPerSide = c.VirtualKeys,
            r = c.Rank,
            m = c.TopM;
        long dv = c.ValueDimResolved(dModel),
            dp = c.PreValueDimResolved,
            cores = c.Cores,
            mc = c.CoarseCandidates(c.VirtualKeys),
            pooled = c.PooledDim(dModel);
        long dense = 0;
        if (c.QueryConv)
            dense += d * c.QueryConvKernel;
        dense += d * hq * q * dk + hq * q * dk; // query projection (with bias)
        if (c.QueryNorm != QueryNorm.None)
            dense += 2 * hq * q * dk; // norm weight and bias
        dense += h * r * keysPerSide * dk; // row and column keys, Dk/2 each
        if (c.QkNorm)
            dense += dk; // q_norm and k_norm gains, Dk/2 each
        if (c.IsTucker)
            dense += h * cores * r * r;
        if (dp > 0)
            dense += d * dp; // W_pre
        if (c.OutputGate)
            dense += d * dv; // W_s
        if (c.HasProjection(dModel))
            dense += pooled * d;
        long total = dense + (c.SharedValues ? 0 : c.Rows * (dv + dp));
        long activated = dense + h * m * (dv + dp); // every token reads all dense parts and its H·m rows
        long flops = 0;
        if (c.QueryConv)
            flops += 2 * d * c.QueryConvKernel;
        flops += 2 * d * hq * q * dk; // query projection
        flops += 2 * h * r * 2 * keysPerSide * (dk / 2); // S_row, S_col
        if (c.IsTucker)
        {
            flops += 2 * h * 2 * r * keysPerSide; // coarse uᵀS_row, tᵀS_col
            flops += 2 * h * cores * (r * r * mc + r * mc * mc); // exact scores on the candidate grid (m'×m', 2m'×2m' or n'×n')
        }
        else
            flops += h * m * m; // k×k additive grid
        if (dp > 0)
            flops += 2 * d * dp + 2 * h * m * dp; // W_pre x and the H·m dots a_i = ⟨W_pre x, P[i]⟩
        flops += 2 * h * m * dv; // weighted sum of the selected values
        if (c.OutputGate)
            flops += 2 * d * dv + dv;
        if (c.HasProjection(dModel))
            flops += 2 * pooled * d;
        return new ParameterCount(total, activated, flops);
    }

    /// <summary>Parameters of a shared table of <paramref name="rows"/> rows for layers like <paramref name="c"/> (values +
    /// pre-values).</summary>
    public static long SharedTableParameters(MemoryConfig c, int dModel, long rows) =>
        rows * (c.ValueDimResolved(dModel) + c.PreValueDimResolved);
}
