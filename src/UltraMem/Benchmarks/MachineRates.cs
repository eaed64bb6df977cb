namespace UltraMem.Benchmarks;

/// <summary>This machine's matmul rate and read bandwidth (<see cref="DecodeBenchmark.MeasureMatmulGflops"/>, <see
/// cref="DecodeBenchmark.MeasureReadBandwidth"/>).</summary>
public sealed record MachineRates(double MatmulGflops, double ReadGbPerS);
