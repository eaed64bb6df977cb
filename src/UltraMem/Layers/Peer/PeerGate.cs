using System.ComponentModel;
using System.Text.Json.Serialization;
using UltraMem.IO;

namespace UltraMem.Layers.Peer;

/// <summary>How PEER's router scores weight the selected experts.</summary>
[Description("gate"), JsonConverter(typeof(JsonEnumConverter<PeerGate>))]
public enum PeerGate
{
    /// <summary>Softmax over each head's top-k (PEER's).</summary>
    [JsonStringEnumMemberName("softmax")]
    Softmax,

    [JsonStringEnumMemberName("relu")]
    Relu,

    [JsonStringEnumMemberName("sigmoid")]
    Sigmoid,

    /// <summary>The raw scores.</summary>
    [JsonStringEnumMemberName("none")]
    None,
}
