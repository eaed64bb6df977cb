using UltraMem.Layers;

namespace UltraMem.Model;

/// <summary>
/// The parameters one forward pass read (the decode cost model, docs/results.md §1): every dense weight — attention, norms, FFNs, routers,
/// keys,
/// projections, the (tied) embedding as output head — plus the distinct rows of each sparse table that the pass touched
/// (value rows of memory layers, whole experts of MoE layers, expert rows of PEER).
/// </summary>
/// <param name="TotalParameters">All parameters of the model.</param>
/// <param name="SparseParameters">Parameters in sparse tables (a shared table once).</param>
/// <param name="Tables">Per table (full name): rows read, rows, row width. A shared table's reads are summed over its readers, capped at
/// its size.</param>
public sealed record ParameterReads(long TotalParameters, long SparseParameters, IReadOnlyList<SparseRead> Tables)
{
    /// <summary>Parameters outside sparse tables: all read by every step.</summary>
    public long DenseParameters => TotalParameters - SparseParameters;

    /// <summary>Sparse-table parameters the pass read.</summary>
    public long SparseParametersRead => Tables.Sum(t => t.ParametersRead);

    public long ParametersRead => DenseParameters + SparseParametersRead;

    /// <summary>Bytes read for parameters stored as <paramref name="bytesPerParameter"/>-byte numbers (4 = float32).</summary>
    public long BytesRead(int bytesPerParameter = 4) => ParametersRead * bytesPerParameter;

    /// <summary>The reads of <paramref name="model"/>'s last forward pass.</summary>
    public static ParameterReads Of(TransformerLM model)
    {
        long total = model.parameters().Sum(p => p.numel());
        var tables = new Dictionary<string, SparseRead>();
        for (int j = 0; j < model.memory_layers.Count; j++)
            foreach (var r in model.memory_layers[j].LastSparseReads())
            {
                bool shared = r.Table.StartsWith("shared_memory.", StringComparison.Ordinal);
                string name = shared ? r.Table : $"memory_layers.{j}.{r.Table}";
                tables[name] = tables.TryGetValue(name, out var seen)
                    ? seen with
                    {
                        RowsRead = Math.Min(seen.TableRows, seen.RowsRead + r.RowsRead),
                    }
                    : r with
                    {
                        Table = name,
                    };
            }
        long sparse = tables.Values.Sum(t => t.TableParameters);
        return new ParameterReads(total, sparse, tables.Values.ToList());
    }
}
