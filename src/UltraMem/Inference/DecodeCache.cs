using UltraMem.Layers;
using UltraMem.Model;
using static TorchSharp.torch;

namespace UltraMem.Inference;

/// <summary>
/// State for incremental (KV-cache) decoding: per block the attention keys/values, per plugged-in layer
/// its own sequence state. <see cref="Position"/> is the number of tokens already processed.
/// </summary>
public sealed class DecodeCache : IDisposable
{
    public int Position { get; internal set; }
    public AttentionCache[] Attention { get; }
    public SlotState[] Slots { get; }
    public long BatchSize { get; }

    public DecodeCache(TransformerLM model, long batchSize, ScalarType dtype = ScalarType.Float32)
    {
        var c = model.Config;
        BatchSize = batchSize;
        Attention = Enumerable.Range(0, c.NLayers).Select(_ => new AttentionCache(batchSize, c.NHeads, c.MaxSeqLen, c.HeadDim, dtype)).ToArray();
        Slots = Enumerable.Range(0, c.MemoryLayers.Count).Select(_ => new SlotState()).ToArray();
    }

    public void Dispose()
    {
        foreach (var a in Attention) a.Dispose();
        foreach (var s in Slots) s.Dispose();
    }
}
