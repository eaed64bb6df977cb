using UltraMem.Layers;
using static TorchSharp.torch;

namespace UltraMem.Model;

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

    readonly bool _ownsAttention;

    public DecodeCache(TransformerLM model, long batchSize, ScalarType dtype = ScalarType.Float32)
        : this(model, NewAttention(model.Config, batchSize, dtype, model.Device), batchSize, 0, ownsAttention: true) { }

    /// <summary>
    /// A cache over existing attention buffers (e.g. slices of larger ones, <see cref="AttentionCache.Slice"/>), so that models with
    /// the same backbone can share one KV allocation — the decode benchmark does this; the buffers stay owned by the caller.
    /// </summary>
    public DecodeCache(TransformerLM model, IReadOnlyList<AttentionCache> attention, int position)
        : this(model, attention, attention.Count > 0 ? attention[0].Keys.shape[0] : 0, position, ownsAttention: false)
    {
        var c = model.Config;
        if (attention.Count != c.NLayers)
            throw new UltraMemException($"the model has {c.NLayers} blocks but {attention.Count} attention caches were given");
        var shape = attention[0].Keys.shape;
        if (shape[1] != c.NHeads || shape[3] != c.HeadDim || shape[2] < position)
            throw new UltraMemException(
                $"attention cache [{string.Join(", ", shape)}] does not fit the model's {c.NHeads} heads of {c.HeadDim} at position {position}"
            );
    }

    DecodeCache(TransformerLM model, IReadOnlyList<AttentionCache> attention, long batchSize, int position, bool ownsAttention)
    {
        Attention = attention.ToArray();
        BatchSize = batchSize;
        Slots = Enumerable.Range(0, model.Config.MemoryLayers.Count).Select(_ => new SlotState()).ToArray();
        Position = position;
        _ownsAttention = ownsAttention;
    }

    static AttentionCache[] NewAttention(ModelConfig c, long batchSize, ScalarType dtype, Device device) =>
        Enumerable
            .Range(0, c.NLayers)
            .Select(_ => new AttentionCache(batchSize, c.NHeads, c.MaxSeqLen, c.HeadDim, dtype, device))
            .ToArray();

    /// <summary>
    /// Moves the decoding position back to <paramref name="position"/> so that a step can be re-run (benchmarks). The plugged-in
    /// layers' sequence state (a query conv's tail) is not rewound, so this is for timing, not for continuing a generation.
    /// </summary>
    public void Rewind(int position)
    {
        if (position < 0 || position > Position)
            throw new ArgumentOutOfRangeException(nameof(position), $"can rewind only to 0..{Position}, not {position}");
        Position = position;
    }

    public void Dispose()
    {
        if (_ownsAttention)
            foreach (var a in Attention)
                a.Dispose();
        foreach (var s in Slots)
            s.Dispose();
    }
}
