using UltraMem.Layers.Memory;

namespace UltraMem.Benchmarks;

/// <summary>Settings shared by every case of the layer benchmark.</summary>
public sealed record LayerBenchSettings
{
    public int DModel { get; init; } = 512;
    public int ValueDim { get; init; } = 256;
    public int KeyDim { get; init; } = 128;
    public int Heads { get; init; } = 2;
    public int TopM { get; init; } = 32;
    public int Tokens { get; init; } = 4096;
    public int SeqLen { get; init; } = 512;
    public int Warmup { get; init; } = 2;
    public int Steps { get; init; } = 6;
    public int? Threads { get; init; }

    /// <summary>The <c>ultramem</c> rung's layer at this width with <paramref name="rows"/> physical values (a perfect square).</summary>
    public MemoryConfig Memory(long rows)
    {
        int n = (int)Math.Round(Math.Sqrt(rows));
        if ((long)n * n != rows)
            throw new UltraMemException($"value rows must be a perfect square n² (got {rows})");
        return new MemoryConfig
        {
            NKeys = n,
            Heads = Heads,
            TopM = TopM,
            KeyDim = KeyDim,
            ValueDim = ValueDim,
            ValueProjection = true,
            Softmax = false,
            ShareQuery = Heads % 2 == 0,
            QkNorm = true,
            Expansion = 4,
            Retrieval = Retrieval.Tucker,
            TuckerRank = 2,
            TuckerCores = 2,
            Init = InitScheme.Paper,
            ValueLrMultiplier = 4,
        };
    }
}
