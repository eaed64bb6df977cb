using static TorchSharp.torch;

namespace UltraMem.Layers;

/// <summary>Keys and values of one attention layer for incremental decoding, in preallocated buffers.</summary>
public sealed class AttentionCache : IDisposable
{
    public Tensor Keys,
        Values; // [B, H, maxLen, d]

    public AttentionCache(long batch, int heads, int maxLen, int headDim, ScalarType dtype, Device device)
    {
        Keys = zeros(batch, heads, maxLen, headDim, dtype: dtype, device: device);
        Values = zeros(batch, heads, maxLen, headDim, dtype: dtype, device: device);
    }

    AttentionCache(Tensor keys, Tensor values)
    {
        Keys = keys;
        Values = values;
    }

    /// <summary>The first <paramref name="batch"/> sequences of this cache, as views sharing its memory.</summary>
    public AttentionCache Slice(long batch) => new(Keys.narrow(0, 0, batch), Values.narrow(0, 0, batch));

    public void Dispose()
    {
        Keys.Dispose();
        Values.Dispose();
    }
}
