namespace UltraMem.Layers;

/// <summary>Parameter and compute accounting of one component, per token.</summary>
/// <param name="Total">All parameters.</param>
/// <param name="Activated">Parameters a single token reads (e.g. the m selected value rows of a memory).</param>
/// <param name="FlopsPerToken">Multiply-adds × 2 per token (matmuls and weighted lookups).</param>
public readonly record struct ParameterCount(long Total, long Activated, long FlopsPerToken)
{
    public static ParameterCount operator +(ParameterCount a, ParameterCount b) =>
        new(a.Total + b.Total, a.Activated + b.Activated, a.FlopsPerToken + b.FlopsPerToken);

    /// <summary>A dense linear map in → out: every weight is read by every token.</summary>
    public static ParameterCount Dense(long inDim, long outDim) => new(inDim * outDim, inDim * outDim, 2 * inDim * outDim);
}
