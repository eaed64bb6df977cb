using UltraMem.Model;

namespace UltraMem.Layers;

/// <summary>Builds the layer named by a <see cref="SlotPlacement"/>. New layer kinds register here.</summary>
public static class SlotFactory
{
    public static readonly string[] Kinds = { "swiglu" };

    public static FeedForwardSlot Create(SlotPlacement placement, ModelConfig config) => placement.Kind switch
    {
        "swiglu" => new SwiGLU(config.DModel, placement.Hidden ?? config.FfnHiddenResolved),
        _ => throw new UltraMemException($"unknown memory layer kind '{placement.Kind}' (known: {string.Join(", ", Kinds)})"),
    };
}
