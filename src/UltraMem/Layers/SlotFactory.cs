using UltraMem.Layers.Memory;
using UltraMem.Model;

namespace UltraMem.Layers;

/// <summary>Builds the layer named by a <see cref="SlotPlacement"/>. New layer kinds register here.</summary>
public static class SlotFactory
{
    public static readonly string[] Kinds = { "swiglu", "pkm", "ultramem", "peer" };

    /// <summary>Kinds built as a <see cref="MemoryLayer"/> (configured by the placement's <c>memory</c> block).</summary>
    public static bool IsMemory(string kind) => kind is "pkm" or "ultramem";

    public static FeedForwardSlot Create(SlotPlacement placement, ModelConfig config) => placement.Kind switch
    {
        "swiglu" => new SwiGLU(config.DModel, placement.Hidden ?? config.FfnHiddenResolved),
        "pkm" or "ultramem" => new MemoryLayer(config.DModel, placement.Memory ?? MemoryPresets.DefaultFor(placement.Kind, config)),
        "peer" => new Peer.PeerLayer(config.DModel, placement.Peer ?? Peer.PeerConfig.DefaultFor(config)),
        _ => throw new UltraMemException($"unknown memory layer kind '{placement.Kind}' (known: {string.Join(", ", Kinds)})"),
    };
}
