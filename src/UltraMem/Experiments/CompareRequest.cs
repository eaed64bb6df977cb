namespace UltraMem.Experiments;

/// <summary>What to compare and where (<see cref="Comparison.Run"/>).</summary>
public sealed record CompareRequest
{
    /// <summary>The comparison folder: settings.json, results.jsonl, reports, and a run folder per (arch, seed): ARCH/seed-S/.</summary>
    public required string OutDir { get; init; }

    /// <summary>Where the runs train (not part of the settings: a comparison may continue on another device). Null: the CPU.</summary>
    public TorchSharp.torch.Device? Device { get; init; }
    public required CompareSettings Settings { get; init; }
    public required IReadOnlyList<string> Archs { get; init; }
    public required IReadOnlyList<ulong> Seeds { get; init; }
    public required string CacheDir { get; init; }
    public CancellationToken Cancel { get; init; }
    public Action<string> Log { get; init; } = Console.Error.WriteLine;
    public bool ShowProgress { get; init; } = true;

    /// <summary>Keep the AdamW moments of finished runs (by default deleted once the run is recorded: they are 2/3 of a
    /// checkpoint).</summary>
    public bool KeepOptimizerState { get; init; }

    /// <summary>Stop each run after this step as if interrupted (tests).</summary>
    public long? StopAfterStep { get; init; }

    /// <summary>The command line, recorded in settings.json when the folder is created.</summary>
    public string? Command { get; init; }

    /// <summary>
    /// Train again the runs whose recorded model is not the one this version builds for their architecture (a preset changed):
    /// their run folders move to OUT/stale/, their old results lines stay and are superseded by the new ones. Without it such
    /// runs stop the comparison with an error naming them.
    /// </summary>
    public bool RetrainStale { get; init; }
}
