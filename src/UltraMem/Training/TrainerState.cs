namespace UltraMem.Training;

/// <summary>Progress of a training run, stored with each checkpoint.</summary>
public sealed record TrainerState
{
    /// <summary>Optimizer steps completed; training resumes at this step.</summary>
    public long Step { get; init; }
    public long TokensSeen { get; init; }
    public double ElapsedSeconds { get; init; }
    public string TokenizerFingerprint { get; init; } = "";
    public double? LastValidationLoss { get; init; }
}
