using UltraMem.Layers.Memory;
using UltraMem.Model;

namespace UltraMem.Layers;

/// <summary>Builds the layer named by a <see cref="SlotPlacement"/>. New layer kinds register here.</summary>
public static class SlotFactory
{
    public static readonly string[] Kinds = { "swiglu", "pkm", "ultramem", "ultramemv2", "memory_plus", "moe", "peer" };

    /// <summary>Kinds built as a <see cref="MemoryLayer"/> (configured by the placement's <c>memory</c> block).</summary>
    public static bool IsMemory(string kind) => kind is "pkm" or "ultramem" or "ultramemv2" or "memory_plus";

    /// <param name="shared">The model's shared value table, for memory layers with <c>shared_values</c>.</param>
    public static FeedForwardSlot Create(SlotPlacement placement, ModelConfig config, SharedMemory? shared = null) => placement.Kind switch
    {
        "swiglu" => new SwiGLU(config.DModel, placement.Hidden ?? config.FfnHiddenResolved),
        "pkm" or "ultramem" or "ultramemv2" or "memory_plus" => new MemoryLayer(config.DModel, placement.Memory ?? MemoryPresets.DefaultFor(placement.Kind, config), shared),
        "peer" => new Peer.PeerLayer(config.DModel, placement.Peer ?? Peer.PeerConfig.DefaultFor(config)),
        "moe" => new Moe.MixtureOfExperts(config.DModel, placement.Moe ?? new Moe.MoeConfig(), config.FfnHiddenResolved),
        _ => throw new UltraMemException($"unknown memory layer kind '{placement.Kind}' (known: {string.Join(", ", Kinds)})"),
    };

    /// <summary>The accounting of the layer <see cref="Create"/> would build, from the config alone.</summary>
    public static ParameterCount Accounting(SlotPlacement placement, ModelConfig config) => placement.Kind switch
    {
        "swiglu" => SwiGLU.Accounting(config.DModel, placement.Hidden ?? config.FfnHiddenResolved),
        "pkm" or "ultramem" or "ultramemv2" or "memory_plus" => MemoryLayer.Accounting(placement.Memory ?? MemoryPresets.DefaultFor(placement.Kind, config), config.DModel),
        "peer" => Peer.PeerLayer.Accounting(placement.Peer ?? Peer.PeerConfig.DefaultFor(config), config.DModel),
        "moe" => Moe.MixtureOfExperts.Accounting(placement.Moe ?? new Moe.MoeConfig(), config.DModel, config.FfnHiddenResolved),
        _ => throw new UltraMemException($"unknown memory layer kind '{placement.Kind}' (known: {string.Join(", ", Kinds)})"),
    };
}
