namespace UltraMem.Layers;

/// <summary>
/// Rows of one sparse table that the last forward pass read (the bytes-read count of the decode benchmark, docs/results.md §1): <paramref
/// name="RowsRead"/> distinct
/// rows of <paramref name="TableRows"/>, each <paramref name="RowParameters"/> parameters wide. A MoE layer's "rows" are its
/// experts (each read whole); a memory layer's are value rows.
/// </summary>
public sealed record SparseRead(string Table, long RowsRead, long TableRows, long RowParameters)
{
    public long ParametersRead => RowsRead * RowParameters;
    public long TableParameters => TableRows * RowParameters;
}
