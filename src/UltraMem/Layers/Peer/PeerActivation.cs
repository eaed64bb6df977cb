using System.ComponentModel;
using System.Text.Json.Serialization;
using UltraMem.IO;

namespace UltraMem.Layers.Peer;

/// <summary>σ of a PEER expert neuron, e_i(x) = σ(u_iᵀx)·v_i.</summary>
[Description("activation"), JsonConverter(typeof(JsonEnumConverter<PeerActivation>))]
public enum PeerActivation
{
    /// <summary>PEER's (arXiv:2407.04153).</summary>
    [JsonStringEnumMemberName("gelu")]
    Gelu,

    [JsonStringEnumMemberName("relu")]
    Relu,

    [JsonStringEnumMemberName("silu")]
    Silu,

    /// <summary>Linear experts.</summary>
    [JsonStringEnumMemberName("none")]
    None,
}
