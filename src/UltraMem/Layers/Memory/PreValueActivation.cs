using System.ComponentModel;
using System.Text.Json.Serialization;
using UltraMem.IO;

namespace UltraMem.Layers.Memory;

/// <summary>Activation on UltraMemV2's pre-value products a_i = ⟨W_pre x, P[i]⟩.</summary>
[Description("pre_value_activation"), JsonConverter(typeof(JsonEnumConverter<PreValueActivation>))]
public enum PreValueActivation
{
    /// <summary>V2's choice.</summary>
    [JsonStringEnumMemberName("none")]
    None,

    [JsonStringEnumMemberName("gelu")]
    Gelu,
}
