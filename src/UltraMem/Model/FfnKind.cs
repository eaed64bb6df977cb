using System.ComponentModel;
using System.Text.Json.Serialization;
using UltraMem.IO;

namespace UltraMem.Model;

/// <summary>The FFN of every block.</summary>
[Description("ffn"), JsonConverter(typeof(JsonEnumConverter<FfnKind>))]
public enum FfnKind
{
    [JsonStringEnumMemberName("swiglu")]
    SwiGlu,

    /// <summary>No block FFN (only plugged-in layers).</summary>
    [JsonStringEnumMemberName("none")]
    None,
}
