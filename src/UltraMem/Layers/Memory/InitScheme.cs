using System.ComponentModel;
using System.Text.Json.Serialization;
using UltraMem.IO;

namespace UltraMem.Layers.Memory;

/// <summary>A memory layer's initialisation scheme (<see cref="MemoryInit"/> has the formulas).</summary>
[Description("init"), JsonConverter(typeof(JsonEnumConverter<InitScheme>))]
public enum InitScheme
{
    /// <summary>Lample et al.'s constants (PKM).</summary>
    [JsonStringEnumMemberName("pkm")]
    Pkm,

    /// <summary>The constants of UltraMem's released code.</summary>
    [JsonStringEnumMemberName("reference")]
    Reference,

    /// <summary>UltraMem's init as printed.</summary>
    [JsonStringEnumMemberName("paper")]
    Paper,

    /// <summary>UltraMem's, with the values solved to match the FFN's output variance.</summary>
    [JsonStringEnumMemberName("paper_matched")]
    PaperMatched,

    /// <summary>UltraMemV2's, values solved to match the FFN's output variance.</summary>
    [JsonStringEnumMemberName("v2")]
    V2,

    /// <summary>UltraMemV2's with the paper's printed σ_V formula.</summary>
    [JsonStringEnumMemberName("v2_paper")]
    V2Paper,
}
