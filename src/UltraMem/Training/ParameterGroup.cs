using TorchSharp.Modules;

namespace UltraMem.Training;

/// <summary>
/// A named set of parameters sharing weight decay and a per-step learning-rate multiplier
/// (e.g. UltraMem's value-learning-rate decay: κ → 1 on top of the base schedule).
/// </summary>
public sealed class ParameterGroup
{
    public required string Name { get; init; }
    public required IReadOnlyList<(string Name, Parameter Param)> Parameters { get; init; }
    public double WeightDecay { get; init; }

    /// <summary>Multiplier on the base learning rate at a given step (0-based). Default 1.</summary>
    public Func<long, double> LearningRateMultiplier { get; init; } = _ => 1.0;

    /// <summary>A constant learning rate that replaces the scheduled one for this group (e.g. Memory+'s values); null = scheduled ×
    /// multiplier.</summary>
    public double? FixedLearningRate { get; init; }

    /// <summary>The learning rate used by the last <see cref="AdamW.Step"/>.</summary>
    public double CurrentLearningRate { get; internal set; }
}
