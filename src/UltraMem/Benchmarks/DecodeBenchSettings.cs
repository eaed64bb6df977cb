namespace UltraMem.Benchmarks;

public sealed record DecodeBenchSettings
{
    public IReadOnlyList<int> Batches { get; init; } = new[] { 1, 4, 16, 64, 256, 1024 };

    /// <summary>Tokens already in the KV cache when the measured step runs.</summary>
    public int KvLength { get; init; } = 512;
    public int Warmup { get; init; } = 2;
    public int Repetitions { get; init; } = 5;
    public int? Threads { get; init; }
    public ulong Seed { get; init; } = 1;

    /// <summary>Batch sizes at which each model's feed-forward slots are also timed alone (<see cref="SlotProfile"/>); needs the machine's
    /// rates.</summary>
    public IReadOnlyList<int> ProfileBatches { get; init; } = Array.Empty<int>();
}
