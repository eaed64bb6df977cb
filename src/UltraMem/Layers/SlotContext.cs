namespace UltraMem.Layers;

/// <summary>
/// What a feed-forward slot needs to know about the model around it — to fill its defaults, size, build and initialise
/// itself — so that layers never see a model config. The model derives it from its config
/// (<c>ModelConfig.ForSlots()</c>); a layer built alone uses <see cref="Standalone"/>.
/// </summary>
/// <param name="DModel">D, the residual width.</param>
/// <param name="NLayers">L, the number of Transformer blocks (output projections start at init_std/√(2L)).</param>
/// <param name="FfnHidden">F, the inner width of the model's SwiGLU FFN.</param>
/// <param name="InitStd">Std of the normal init of the model's linears.</param>
/// <param name="DenseParameters">Attention + FFN parameters of the backbone (no embeddings, no plugged-in layers).</param>
/// <param name="BackboneFlops">Forward FLOPs per token of the backbone alone (no plugged-in layers).</param>
public sealed record SlotContext(int DModel, int NLayers, int FfnHidden, double InitStd, long DenseParameters, long BackboneFlops)
{
    /// <summary>
    /// A layer outside any model: the FFN it is compared with at init is that of a one-layer model of width
    /// <paramref name="dModel"/> with the default init_std (0.02). The backbone sizes are 0, so kind defaults that
    /// scale with the model (table sizes) need a real model's context.
    /// </summary>
    public static SlotContext Standalone(int dModel) => new(dModel, 1, SwiGLU.DefaultHidden(dModel), 0.02, 0, 0);
}
