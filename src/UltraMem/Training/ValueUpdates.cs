using System.ComponentModel;
using System.Text.Json.Serialization;
using UltraMem.IO;

namespace UltraMem.Training;

/// <summary>How value tables are updated (docs/training.md).</summary>
[Description("value_updates"), JsonConverter(typeof(JsonEnumConverter<ValueUpdates>))]
public enum ValueUpdates
{
    /// <summary>Exact AdamW on a dense gradient, as in the papers.</summary>
    [JsonStringEnumMemberName("dense")]
    Dense,

    /// <summary>Only the rows a step selected: row-sparse gradient and lazy AdamW, cost independent of the table size.</summary>
    [JsonStringEnumMemberName("row_sparse")]
    RowSparse,
}
