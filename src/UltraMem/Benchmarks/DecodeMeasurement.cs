using UltraMem.Reporting;

namespace UltraMem.Benchmarks;

/// <summary>One (variant, batch) cell: step times and the parameters the step read, measured and by the cost model.</summary>
public sealed record DecodeMeasurement
{
    public required DecodeVariant Variant { get; init; }
    public int Batch { get; init; }
    public required double[] StepMs { get; init; }
    public double MedianMs => Stats.Median(StepMs);
    public double MinMs => StepMs.Min();
    public double MaxMs => StepMs.Max();
    public double TokensPerSecond => Batch / (MedianMs / 1000);
    public long TotalParameters { get; init; }
    public long DenseParameters { get; init; }
    public long FlopsPerToken { get; init; }

    /// <summary>Parameters read by the last measured step: dense weights + distinct sparse rows × row size (counted).</summary>
    public long ParametersRead { get; init; }

    /// <summary>The papers' cost model (docs/results.md §1): min(k·B, N) experts, min(B·H·m, N) value rows, plus the dense
    /// weights.</summary>
    public long CostModelSpec { get; init; }

    /// <summary>The expected distinct rows when every token picks uniformly at random: N·(1 − (1 − k/N)^B), plus the dense
    /// weights.</summary>
    public long CostModelUniform { get; init; }

    /// <summary>KV-cache bytes the attention reads in the step (not parameters): B·(L_kv+1)·D·2·layers·4.</summary>
    public long KvBytes { get; init; }
    public long BytesRead => 4 * ParametersRead;

    /// <summary>The step's floor by component (FLOPs and bytes), for the machine's rates (<see cref="DecodeRoofline"/>).</summary>
    public DecodeRoofline? Roofline { get; init; }
}
