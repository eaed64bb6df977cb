using System.ComponentModel;
using System.Text.Json.Serialization;
using UltraMem.IO;

namespace UltraMem.Layers.Memory;

/// <summary>How a memory layer scores its value grid.</summary>
[Description("retrieval"), JsonConverter(typeof(JsonEnumConverter<Retrieval>))]
public enum Retrieval
{
    /// <summary>Additive s_row + s_col (PKM, arXiv:1907.05242).</summary>
    [JsonStringEnumMemberName("product_keys")]
    ProductKeys,

    /// <summary>TDQKR: rank-r keys and Tucker core(s) (UltraMem, arXiv:2411.12364).</summary>
    [JsonStringEnumMemberName("tucker")]
    Tucker,
}
