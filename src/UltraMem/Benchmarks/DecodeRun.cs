namespace UltraMem.Benchmarks;

/// <summary>What <see cref="DecodeBenchmark.Run"/> measured: every (variant, batch) step, and the slot profiles asked for.</summary>
public sealed record DecodeRun(List<DecodeMeasurement> Steps, List<SlotProfile> Profile);
