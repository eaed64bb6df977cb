namespace UltraMem.Training;

/// <summary>
/// What a run folder records of its run, for <c>--resume</c>: its newest complete checkpoint, or — when it was stopped
/// before its first checkpoint was complete — the model and training configs the trainer wrote when it started, from
/// which the same run starts again at step 0. Without this, such a folder could be neither resumed (no checkpoint) nor
/// trained into again (it holds a run).
/// </summary>
public sealed class ResumePoint
{
    /// <summary>The checkpoint to continue from; null when the run has none yet.</summary>
    public Checkpoint? Latest { get; private init; }

    public required Model.ModelConfig ModelConfig { get; init; }
    public required TrainConfig TrainConfig { get; init; }

    /// <summary>Opens <paramref name="runDir"/>; an error line when it holds neither a checkpoint nor a run's configs.</summary>
    public static ResumePoint Open(string runDir)
    {
        if (Checkpoint.Exists(runDir))
        {
            var latest = Checkpoint.Open(runDir);
            return new ResumePoint
            {
                Latest = latest,
                ModelConfig = latest.ModelConfig,
                TrainConfig = latest.TrainConfig,
            };
        }
        string modelPath = Path.Combine(runDir, Checkpoint.ModelConfigFile),
            trainPath = Path.Combine(runDir, Checkpoint.TrainConfigFile);
        if (!File.Exists(modelPath) || !File.Exists(trainPath))
        {
            Checkpoint.Open(runDir); // throws the error that says what is missing
            throw new UltraMemException($"no checkpoint in {runDir}");
        }
        return new ResumePoint
        {
            ModelConfig = Model.ModelConfig.FromJson(File.ReadAllText(modelPath), modelPath),
            TrainConfig = TrainConfig.FromJson(File.ReadAllText(trainPath), trainPath),
        };
    }
}
