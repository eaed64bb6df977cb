using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using UltraMem.Architectures;
using UltraMem.Model;
using UltraMem.Reporting;
using UltraMem.Training;

namespace UltraMem.Experiments;

/// <summary>
/// <c>ultramem compare</c>: trains each architecture of a matched family (or each rung of the UltraMem ablation ladder) on the same
/// corpus, tokenizer and token budget, for the same seeds (a seed fixes the initialisation seed and the data order, identically for
/// every architecture), one run folder per (arch, seed). Resumable: finished runs are recorded in the append-only
/// <c>results.jsonl</c> and skipped when the command is run again; an unfinished run continues from its latest checkpoint (the
/// trainer's resume is exact). A folder holds runs of one settings fingerprint only. Reports are regenerated from the results
/// and each run's metrics every time (<see cref="ComparisonReport"/>).
/// </summary>
public static class Comparison
{
    public const string SettingsFile = "settings.json";

    /// <summary>The architectures a comparison of <paramref name="kind"/> trains by default.</summary>
    public static IReadOnlyList<string> DefaultArchs(string kind) =>
        kind == CompareSettings.LadderKind ? MemoryPresets.Ladder : Families.Members;

    /// <summary>The run folder of (arch, seed), relative to the comparison folder.</summary>
    public static string RunFolder(string arch, ulong seed) => Path.Combine(arch, $"seed-{seed}");

    /// <summary>Checks the architecture names for a comparison of <paramref name="kind"/>.</summary>
    public static void ValidateArchs(string kind, IReadOnlyList<string> archs)
    {
        if (archs.Count == 0)
            throw new UltraMemException("no architectures to compare");
        var known = kind == CompareSettings.LadderKind ? MemoryPresets.Ladder : Families.Architectures;
        foreach (var a in archs)
            if (!known.Contains(a))
                throw new UltraMemException(
                    kind == CompareSettings.LadderKind
                        ? $"'{a}' is not a rung of the ablation ladder (rungs: {string.Join(", ", MemoryPresets.Ladder)})"
                        : $"unknown architecture '{a}' (known: {string.Join(", ", Families.Architectures)})"
                );
        if (archs.Distinct().Count() != archs.Count)
            throw new UltraMemException("an architecture is listed twice");
    }

    /// <summary>
    /// Opens (or creates) a comparison folder for <paramref name="settings"/>: creates settings.json when missing; fails, naming
    /// what differs, when the folder's recorded settings or any results line have another fingerprint.
    /// </summary>
    public static IReadOnlyList<RunRecord> OpenFolder(string outDir, CompareSettings settings, string? command)
    {
        string settingsPath = Path.Combine(outDir, SettingsFile);
        var log = new ResultsLog(outDir);
        string now = settings.Fingerprint;
        var identity = settings.Identity();
        string Advice() =>
            $"; choose another --out folder for these settings (runs are added to {outDir} only with the settings recorded in {settingsPath})";
        if (File.Exists(settingsPath))
        {
            var (_, recorded, recordedIdentity) = CompareSettings.FromFileJson(File.ReadAllText(settingsPath), settingsPath);
            if (recorded != now || CompareSettings.FingerprintOf(recordedIdentity) != recorded)
            {
                var diffs = CompareSettings.Differences(recordedIdentity, identity);
                throw new UltraMemException(
                    $"{outDir} holds a comparison with other settings ({(diffs.Count == 0 ? "fingerprint " + recorded + " vs " + now : string.Join("; ", diffs.Take(6)) + (diffs.Count > 6 ? $"; and {diffs.Count - 6} more" : ""))})"
                        + Advice()
                );
            }
        }
        var results = log.ReadAll();
        foreach (var r in results.Where(r => r.Fingerprint != now))
        {
            var diffs = CompareSettings.Differences(r.Settings, identity);
            throw new UltraMemException(
                $"{log.Path} has a run ({r.Arch}, seed {r.Seed}) with other settings ({(diffs.Count == 0 ? "fingerprint " + r.Fingerprint + " vs " + now : string.Join("; ", diffs.Take(6)))})"
                    + Advice()
            );
        }
        if (!File.Exists(settingsPath))
        {
            if (results.Count == 0 && Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
                throw new UltraMemException(
                    $"{outDir} is not empty and holds no comparison (no {SettingsFile}); choose another --out folder"
                );
            Directory.CreateDirectory(outDir);
            IO.AtomicFile.WriteAllText(settingsPath, settings.ToFileJson(command));
        }
        return results;
    }

    /// <summary>Trains every (arch, seed) not yet recorded, seed by seed, then writes the reports. Stops cleanly on cancellation.</summary>
    public static CompareOutcome Run(CompareRequest req)
    {
        var s = req.Settings.Validate();
        ValidateArchs(s.Kind, req.Archs);
        if (req.Seeds.Count == 0)
            throw new UltraMemException("no seeds");
        if (req.Seeds.Distinct().Count() != req.Seeds.Count)
            throw new UltraMemException("a seed is listed twice");
        // every architecture matched once (the family's targets computed once); existing run folders must hold these models
        var baseModel = s.BaseModel with
        {
            VocabSize = s.Train.TokenizerVocabSize,
        };
        var targets = Families.Targets(baseModel);
        var models = req.Archs.ToDictionary(a => a, a => Families.Matched(baseModel, a, targets));

        var recorded = OpenFolder(req.OutDir, s, req.Command);
        using var folderLock = Lock(req.OutDir);
        recorded = new ResultsLog(req.OutDir).ReadAll(); // as of holding the lock
        var plan = req.Seeds.SelectMany(seed => req.Archs.Select(arch => (Arch: arch, Seed: seed))).ToList();
        // the latest line of an (arch, seed) is its result; one whose model is not what this version builds is stale
        var latest = ResultsLog.LatestByRun(recorded);
        var stale = plan.Select(p =>
                (Run: p, Reason: latest.TryGetValue(p, out var r) ? StaleReason(req.OutDir, r, models[p.Arch], s) : null)
            )
            .Where(x => x.Reason is not null)
            .ToList();
        if (stale.Count > 0 && !req.RetrainStale)
            throw new UltraMemException(
                $"{stale.Count} recorded run{(stale.Count == 1 ? "" : "s")} in {Path.Combine(req.OutDir, ResultsLog.FileName)} were trained with another model than this version of ultramem builds "
                    + $"({string.Join(", ", stale.GroupBy(x => x.Run.Arch).Select(g => $"{g.Key} seed {string.Join(",", g.Select(x => x.Run.Seed))}"))}; "
                    + $"{stale[0].Run.Arch}: {stale[0].Reason}); "
                    + "run with --retrain-stale to train them again (their folders move to stale/, the old lines stay and are superseded), or choose another --out folder"
            );
        foreach (var (p, _) in stale)
        {
            string moved = MoveAside(req.OutDir, p.Arch, p.Seed);
            req.Log($"{p.Arch} seed {p.Seed}: recorded with another model; its run folder moved to {moved}, training it again");
        }
        var done = latest.Keys.Except(stale.Select(x => x.Run)).ToHashSet();
        var results = new ResultsLog(req.OutDir);

        int skipped = plan.Count(p => done.Contains(p));
        if (skipped > 0)
            req.Log($"{skipped} of {plan.Count} runs already recorded in {results.Path}: skipped");
        var todo = plan.Where(p => !done.Contains(p)).ToList();

        // steps still to train, for the overall ETA (a run folder with a checkpoint continues from it)
        var startStep = todo.ToDictionary(
            p => p,
            p => CheckRunFolder(req.OutDir, p.Arch, p.Seed, models[p.Arch], s, req.RetrainStale ? req.Log : null)
        );
        long stepsLeft = todo.Sum(p => s.Train.MaxSteps - startStep[p]);
        long stepsDone = 0;
        var clock = Stopwatch.StartNew();
        int trained = 0;
        bool interrupted = false;
        for (int k = 0; k < todo.Count; k++)
        {
            var (arch, seed) = todo[k];
            if (req.Cancel.IsCancellationRequested)
            {
                interrupted = true;
                break;
            }
            string runDir = Path.Combine(req.OutDir, RunFolder(arch, seed));
            long from = startStep[(arch, seed)];
            string eta =
                stepsDone > 0
                    ? $"ETA for the remaining {todo.Count - k} runs {FormatTime(clock.Elapsed.TotalSeconds / stepsDone * stepsLeft)}"
                    : "ETA after the first run";
            string label = $"[{skipped + k + 1}/{plan.Count}] {arch} seed {seed}";
            req.Log($"{label}: {runDir}" + (from > 0 ? $" (resuming at step {from})" : "") + $"; {eta}");

            long stepBefore = from;
            if (from < s.Train.MaxSteps)
            {
                if (from == 0 && Directory.Exists(runDir))
                { // a run stopped before its first checkpoint: nothing to resume
                    req.Log($"  {runDir} has no checkpoint yet; starting it again");
                    Directory.Delete(runDir, recursive: true);
                }
                TrainResult result;
                try
                {
                    result = Trainer.Run(
                        new TrainRequest
                        {
                            RunDir = runDir,
                            Model = models[arch],
                            Train = s.Train with { Seed = seed },
                            CacheDir = req.CacheDir,
                            Resume = from > 0,
                            Device = req.Device,
                            StopAfterStep = req.StopAfterStep,
                            Cancel = req.Cancel,
                            Log = m => req.Log(m.Replace("; continue with --resume", "")), // the comparison continues it, not `train --resume`
                            ShowProgress = req.ShowProgress,
                            ProgressLabel = label,
                        }
                    );
                }
                catch (UltraMemException e) when (e.Message.StartsWith("training diverged", StringComparison.Ordinal))
                { // recorded as a failed run so that the comparison goes on (run again, it would diverge at the same step)
                    results.Append(Failed(arch, seed, s, models[arch], e.Message));
                    req.Log($"  {arch} seed {seed}: {e.Message}; recorded as failed in {results.Path}");
                    stepsLeft -= s.Train.MaxSteps - stepBefore;
                    continue;
                }
                stepsDone += result.Step - stepBefore;
                stepsLeft -= result.Step - stepBefore;
                if (result.Interrupted || result.Step < s.Train.MaxSteps)
                {
                    interrupted = true;
                    break;
                }
                trained++;
            }
            var record = Record(req.OutDir, arch, seed, s);
            results.Append(record);
            req.Log(
                $"  {arch} seed {seed}: validation loss {record.FinalValLoss:F4}"
                    + (double.IsFinite(record.TrainTokensPerS) ? $", {record.TrainTokensPerS:N0} tokens/s" : "")
                    + $"; recorded in {results.Path}"
            );
            if (!req.KeepOptimizerState)
                DeleteOptimizerState(runDir);
        }
        var report = ComparisonReport.Write(req.OutDir);
        return new CompareOutcome(interrupted, trained, skipped, plan.Count, report);
    }

    /// <summary>One comparison process per folder: an exclusive lock on OUT/.lock (advisory, released when the process ends).</summary>
    static FileStream Lock(string outDir) => IO.FolderLock.Acquire(outDir, "ultramem compare");

    /// <summary>
    /// Why a recorded run no longer stands for <paramref name="model"/>, or null when it does: its model_sha is that of the model
    /// (at the settings' tokenizer vocabulary), or its run folder's checkpoint holds the model (at another vocabulary size).
    /// </summary>
    static string? StaleReason(string outDir, RunRecord r, ModelConfig model, CompareSettings s)
    {
        var atVocab = model with { VocabSize = s.Train.TokenizerVocabSize };
        string expectedSha = ModelSha(atVocab);
        if (r.ModelSha == expectedSha || r.ModelSha == LegacyModelSha(atVocab))
            return null;
        string runDir = Path.Combine(outDir, r.RunDir.Length > 0 ? r.RunDir : RunFolder(r.Arch, r.Seed));
        if (!HasCheckpoint(runDir))
            return $"model_sha {(r.ModelSha.Length > 0 ? r.ModelSha : "(none)")} is not {expectedSha} and {runDir} has no checkpoint to compare";
        return ModelDifference(Checkpoint.Open(runDir).ModelConfig, model);
    }

    /// <summary>The first fields in which <paramref name="found"/> differs from <paramref name="want"/> (vocabulary size aside), or null
    /// when they are the same model.</summary>
    static string? ModelDifference(ModelConfig found, ModelConfig want)
    {
        string a = (found.Resolve() with { VocabSize = 0 }).ToJson(),
            b = (want.Resolve() with { VocabSize = 0 }).ToJson();
        if (a == b)
            return null;
        var diffs = CompareSettings.Differences(JsonNode.Parse(a), JsonNode.Parse(b));
        return diffs.Count > 0 ? string.Join("; ", diffs.Take(3)) : "the model configs differ";
    }

    static bool HasCheckpoint(string runDir) => File.Exists(Path.Combine(runDir, "checkpoints", Checkpoint.LatestPointer));

    /// <summary>First 16 hex digits of SHA-256 of the resolved model config's JSON (a results line's model_sha).</summary>
    public static string ModelSha(ModelConfig model) => CompareSettings.ShortHash(model.Resolve().ToJson());

    /// <summary>
    /// The model_sha that results lines written before configs were resolved carry: the hash of the config as the architecture
    /// recipe returns it (defaults left open). Accepted for <paramref name="model"/> built by this version's recipe.
    /// </summary>
    static string LegacyModelSha(ModelConfig model) => CompareSettings.ShortHash(model.ToJson());

    /// <summary>Moves a run folder to OUT/stale/ARCH/seed-S[.k] (nothing is deleted); returns where it went ("(no folder)" when there was
    /// none).</summary>
    static string MoveAside(string outDir, string arch, ulong seed)
    {
        string runDir = Path.Combine(outDir, RunFolder(arch, seed));
        if (!Directory.Exists(runDir))
            return "(no folder)";
        string target = Path.Combine(outDir, "stale", RunFolder(arch, seed));
        for (int k = 1; Directory.Exists(target); k++)
            target = Path.Combine(outDir, "stale", RunFolder(arch, seed) + "." + k);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        Directory.Move(runDir, target);
        return target;
    }

    /// <summary>
    /// The step an unrecorded run continues from: 0 for none (or a folder without a checkpoint), else its latest checkpoint's step.
    /// Fails when the folder holds another model or other training settings than this comparison would train — unless
    /// <paramref name="moveAsideLog"/> is given: then a folder with another model moves to stale/ and the run starts again.
    /// </summary>
    static long CheckRunFolder(
        string outDir,
        string arch,
        ulong seed,
        ModelConfig model,
        CompareSettings s,
        Action<string>? moveAsideLog = null
    )
    {
        string runDir = Path.Combine(outDir, RunFolder(arch, seed));
        if (!HasCheckpoint(runDir))
            return 0;
        var ckpt = Checkpoint.Open(runDir);
        if (ModelDifference(ckpt.ModelConfig, model) is { } difference)
        {
            if (moveAsideLog is null)
                throw new UltraMemException(
                    $"{runDir} holds another model than this version of ultramem builds for '{arch}' ({difference}); use --retrain-stale or another --out folder"
                );
            moveAsideLog(
                $"{runDir} holds another model than this version builds for '{arch}'; moved to {MoveAside(outDir, arch, seed)}, starting it again"
            );
            return 0;
        }
        var expected = CompareSettings.StripTrain(s.Train with { Seed = seed }).ToJsonString();
        var found = CompareSettings.StripTrain(ckpt.TrainConfig).ToJsonString();
        if (expected != found)
        {
            var diffs = CompareSettings.Differences(
                CompareSettings.StripTrain(ckpt.TrainConfig),
                CompareSettings.StripTrain(s.Train with { Seed = seed })
            );
            throw new UltraMemException(
                $"{runDir} was trained with other settings ({string.Join("; ", diffs.Take(4))}); use another --out folder"
            );
        }
        return ckpt.State.Step;
    }

    /// <summary>The results line of a finished run, from its latest checkpoint and its metrics.</summary>
    static RunRecord Record(string outDir, string arch, ulong seed, CompareSettings s)
    {
        string runDir = Path.Combine(outDir, RunFolder(arch, seed));
        var ckpt = Checkpoint.Open(runDir);
        var metrics = new MetricsLog(runDir).ReadAll();
        var finalVal =
            metrics.LastOrDefault(m => m.Split == "val" && m.Step == ckpt.State.Step)?.Values["loss"]
            ?? ckpt.State.LastValidationLoss
            ?? throw new UltraMemException($"{runDir}: no final validation loss");
        var count = ModelAccounting.Total(ckpt.ModelConfig);
        var t = ckpt.TrainConfig;
        long tokensPerStep = (long)t.BatchSize * (t.SeqLen ?? ckpt.ModelConfig.MaxSeqLen) * t.GradAccum;
        return new RunRecord
        {
            Arch = arch,
            Seed = seed,
            Comparison = s.Kind,
            ModelName = s.ModelName,
            Steps = ckpt.State.Step,
            Tokens = ckpt.State.TokensSeen,
            FinalValLoss = finalVal,
            TrainTokensPerS = Stats.TrainingTokensPerSecond(metrics, tokensPerStep, t.CheckpointInterval),
            TrainSeconds = ckpt.State.ElapsedSeconds,
            TotalParams = count.Total,
            ActivatedParams = count.Activated,
            FlopsPerToken = count.FlopsPerToken,
            Threads = t.Threads ?? Environment.ProcessorCount,
            Fingerprint = s.Fingerprint,
            ModelSha = ModelSha(ckpt.ModelConfig),
            RunDir = RunFolder(arch, seed),
            FinishedUtc = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            Version = typeof(Comparison).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "",
            Cores = Environment.ProcessorCount,
            Settings = s.Identity(),
        };
    }

    static RunRecord Failed(string arch, ulong seed, CompareSettings s, ModelConfig model, string error)
    {
        var count = ModelAccounting.Total(model);
        return new RunRecord
        {
            Arch = arch,
            Seed = seed,
            Comparison = s.Kind,
            ModelName = s.ModelName,
            FinalValLoss = double.NaN,
            TrainTokensPerS = double.NaN,
            TotalParams = count.Total,
            ActivatedParams = count.Activated,
            FlopsPerToken = count.FlopsPerToken,
            Threads = s.Train.Threads ?? Environment.ProcessorCount,
            Fingerprint = s.Fingerprint,
            RunDir = RunFolder(arch, seed),
            ModelSha = ModelSha(model with { VocabSize = s.Train.TokenizerVocabSize }),
            FinishedUtc = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            Version = typeof(Comparison).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "",
            Cores = Environment.ProcessorCount,
            Error = error,
            Settings = s.Identity(),
        };
    }

    static void DeleteOptimizerState(string runDir)
    {
        var ckpt = Checkpoint.Open(runDir);
        string path = Path.Combine(ckpt.Directory, Checkpoint.OptimizerFile);
        if (File.Exists(path))
            File.Delete(path);
    }

    public static string FormatTime(double seconds)
    {
        var t = TimeSpan.FromSeconds(Math.Max(0, seconds));
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}" : $"{t.Minutes:00}:{t.Seconds:00}";
    }
}
