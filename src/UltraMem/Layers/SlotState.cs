using static TorchSharp.torch;

namespace UltraMem.Layers;

/// <summary>Per-slot state carried across decoding steps (e.g. a causal convolution's tail).</summary>
public sealed class SlotState : IDisposable
{
    public Dictionary<string, Tensor> Tensors { get; } = new();

    public void Dispose()
    {
        foreach (var t in Tensors.Values)
            t.Dispose();
        Tensors.Clear();
    }
}
