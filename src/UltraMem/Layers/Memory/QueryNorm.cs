using System.ComponentModel;
using System.Text.Json.Serialization;
using UltraMem.IO;

namespace UltraMem.Layers.Memory;

/// <summary>Norm on the projected query of a product-key retrieval (memory layers, PEER).</summary>
[Description("query_norm"), JsonConverter(typeof(JsonEnumConverter<QueryNorm>))]
public enum QueryNorm
{
    /// <summary>LayerNorm over each token's query (causal).</summary>
    [JsonStringEnumMemberName("layernorm")]
    LayerNorm,

    /// <summary>BatchNorm, PKM's original: mixes the tokens of a batch, so not causal.</summary>
    [JsonStringEnumMemberName("batchnorm")]
    BatchNorm,

    [JsonStringEnumMemberName("none")]
    None,
}
