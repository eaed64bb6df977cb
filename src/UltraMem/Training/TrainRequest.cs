using UltraMem.Model;

namespace UltraMem.Training;

/// <summary>What to train and where. <see cref="Model"/> is ignored when resuming (the checkpoint's config wins).</summary>
public sealed record TrainRequest
{
    public required string RunDir { get; init; }
    public required ModelConfig Model { get; init; }
    public required TrainConfig Train { get; init; }
    public required string CacheDir { get; init; }
    public bool Resume { get; init; }

    /// <summary>The run to continue, when the caller has opened it already (with <see cref="Resume"/>); null: opened here.</summary>
    public ResumePoint? ResumeFrom { get; init; }

    /// <summary>Where the model trains (<c>--device</c>); not part of the run's identity, so a run may resume on another device.
    /// Null: the CPU.</summary>
    public TorchSharp.torch.Device? Device { get; init; }

    /// <summary>Stop (with a checkpoint) after this many steps even if max_steps is larger — for tests and time-boxed runs.</summary>
    public long? StopAfterStep { get; init; }
    public CancellationToken Cancel { get; init; }
    public Action<string> Log { get; init; } = Console.Error.WriteLine;
    public bool ShowProgress { get; init; } = true;

    /// <summary>Label in front of the progress bar (e.g. a comparison's "run 3/21 moe seed 2").</summary>
    public string ProgressLabel { get; init; } = "train";
}
