using UltraMem.Training;

namespace UltraMem.Benchmarks;

public sealed record LayerBenchResult
{
    public required string Name { get; init; }
    public required string Kind { get; init; }
    public long Rows { get; init; }
    public ValueUpdates ValueUpdates { get; init; }
    public long TotalParams { get; init; }
    public long ActivatedParams { get; init; }
    public long FlopsPerToken { get; init; }
    public int Tokens { get; init; }
    public double StepMsMedian { get; init; }
    public double StepMsMin { get; init; }
    public double StepMsMax { get; init; }
    public double ForwardMs { get; init; }
    public double BackwardMs { get; init; }
    public double OptimizerMs { get; init; }
    public double TokensPerSecond { get; init; }

    /// <summary>Resident memory after building the layer and its input (parameters, buffers).</summary>
    public long SetupRssBytes { get; init; }

    /// <summary>Memory kept across steps after warm-up: gradients and optimizer moments.</summary>
    public long TrainingStateBytes { get; init; }

    /// <summary>Peak extra memory during a measured step (temporaries, dense gradient materialisation) over the post-warm-up
    /// level.</summary>
    public long StepPeakBytes { get; init; }
    public string? Error { get; init; }
}
