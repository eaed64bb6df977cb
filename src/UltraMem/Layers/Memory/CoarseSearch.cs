using System.ComponentModel;
using System.Text.Json.Serialization;
using UltraMem.IO;

namespace UltraMem.Layers.Memory;

/// <summary>
/// Which rows and columns TDQKR's coarse stage hands to the exact fine stage (docs/memory-layers.md, "TDQKR's coarse
/// search"). With the summed core near rank 1, score(i, j) ≈ λ1 · (uᵀS_row[:, i]) · (tᵀS_col[:, j]): a product, as large
/// when both factors are very negative as when both are very positive.
/// </summary>
[Description("coarse_search"), JsonConverter(typeof(JsonEnumConverter<CoarseSearch>))]
public enum CoarseSearch
{
    /// <summary>The papers' search: the coarse_top rows with the largest uᵀS_row and columns with the largest tᵀS_col. It
    /// never examines the (−, −) corner of the grid.</summary>
    [JsonStringEnumMemberName("top")]
    Top,

    /// <summary>The coarse_top largest and the coarse_top smallest of each side (2·coarse_top rows and columns, all of them
    /// when that is at least n'): a departure from the papers, covering both corners where the product is large.</summary>
    [JsonStringEnumMemberName("both_ends")]
    BothEnds,

    /// <summary>Every row and column: the exact top-m over the whole n'×n' grid (O(n'²) per token and head; a reference
    /// for studies on small tables).</summary>
    [JsonStringEnumMemberName("exact")]
    Exact,
}
