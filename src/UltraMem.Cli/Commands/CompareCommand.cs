using System.CommandLine;
using System.Globalization;
using UltraMem.Architectures;
using UltraMem.Experiments;
using UltraMem.Model;
using UltraMem.Training;

namespace UltraMem.Cli.Commands;

/// <summary><c>ultramem compare</c>: the matched family (or the ablation ladder) trained on the same data, budget and seeds.</summary>
static class CompareCommand
{
    /// <summary>Default token budget per run: the tiny family (7 archs × 3 seeds) took 38 min 40 s on 2 cores (docs/compare.md).</summary>
    public const string DefaultTokens = "400k";
    public const int DefaultSeeds = 3,
        DefaultBatch = 16,
        DefaultEvalBatches = 8,
        EvalsPerRun = 6;
    public const double DefaultLr = 3e-3,
        DefaultDropout = 0.0;

    public static Command Create()
    {
        var preset = Cli.Opt("--preset", "Model preset the architectures are matched on: tiny, small, base.", "tiny", true);
        var config = Cli.Opt<string?>(
            "--config",
            "Base model config JSON instead of --preset (its memory layers are ignored: each architecture brings its own)."
        );
        var archs = Cli.Opt<string?>(
            "--archs",
            $"Comma-separated architectures (default: the family, {string.Join(",", Families.Members)}; with --ladder: every rung)."
        );
        var ladder = Cli.Opt<bool>(
            "--ladder",
            "Train the rungs of the UltraMem ablation ladder (arXiv:2411.12364, Table 2) and report them next to the paper's deltas."
        );
        var seeds = Cli.Opt<int?>("--seeds", $"Number of seeds, 1..N (default {DefaultSeeds}).");
        var seedList = Cli.Opt<string?>("--seed-list", "Comma-separated seeds instead of --seeds (e.g. 1,2,7).");
        var tokens = Cli.Opt<string?>(
            "--tokens",
            $"Training tokens per run, rounded up to whole steps; k/M suffixes allowed (default {DefaultTokens}: 196 steps of 16×128 on tiny; the whole tiny family, 7 archs × 3 seeds, took 39 min on 2 cores, docs/compare.md)."
        );
        var steps = Cli.Opt<long?>("--steps", "Optimizer steps per run instead of --tokens.");
        var batch = Cli.Opt<int?>("--batch-size", $"Sequences per step (default {DefaultBatch}).");
        var seqLen = Cli.Opt<int?>("--seq-len", "Tokens per sequence (default: the model's max_seq_len).");
        var lr = Cli.Opt<double?>("--lr", $"Peak learning rate (default {DefaultLr}); warmup 2%, cosine to 0.1×.");
        var warmup = Cli.Opt<long?>("--warmup", "Warmup steps (default 2% of steps).");
        var dropout = Cli.Opt<double?>(
            "--dropout",
            $"Dropout of every model (default {DefaultDropout}: under one epoch of data it only slows learning)."
        );
        var evalEvery = Cli.Opt<long?>(
            "--eval-interval",
            $"Steps between validation points of the curves (default: steps/{EvalsPerRun}). The final loss is always over the whole validation split."
        );
        var evalBatches = Cli.Opt<int?>(
            "--eval-batches",
            $"Validation batches per periodic evaluation (default {DefaultEvalBatches}; the same first batches for every run)."
        );
        var ckptEvery = Cli.Opt<long?>(
            "--checkpoint-interval",
            "Steps between checkpoints (default: the eval interval; Ctrl-C also saves one)."
        );
        var threads = Cli.Opt<int?>(
            "--threads",
            "Intra-op threads of every run (default: all cores). Part of the settings: tokens/s depend on it."
        );
        var valueUpdates = Cli.Opt<string?>("--value-updates", "Memory value tables: dense (exact AdamW, default) or row_sparse.");
        var corpus = Cli.Opt<string?>("--corpus", "brown (bundled, default), sotu, moby-dick, or a .txt/.jsonl file or folder.");
        var vocab = Cli.Opt<int?>("--vocab-size", "Tokenizer vocabulary size (default 8192).");
        var outDir = Cli.Opt<string?>("--out", "Comparison folder (default runs/compare-PRESET, or runs/ladder-PRESET with --ladder).");
        var reportOnly = Cli.Opt<bool>(
            "--report-only",
            "Only regenerate compare.md/csv/png from the folder's results.jsonl and run metrics."
        );
        var keepOptimizer = Cli.Opt<bool>(
            "--keep-optimizer-state",
            "Keep the AdamW moments of finished runs (deleted by default once a run is recorded; weights are kept)."
        );
        var retrainStale = Cli.Opt<bool>(
            "--retrain-stale",
            "Train again the recorded runs whose model is not the one this version builds for their architecture (after a preset changed): their run folders move to OUT/stale/, the old results lines stay and are superseded."
        );
        var cache = Cli.CacheDir();
        var device = Cli.Device();
        var cmd = new Command(
            "compare",
            "Train every architecture of a matched family (or every rung of the UltraMem ablation ladder) on the same corpus, token budget and seeds; "
                + "report validation loss (mean ± spread over seeds), tokens/s and loss curves. Resumable: run the same command again after Ctrl-C; "
                + "finished runs are appended to results.jsonl and skipped."
        )
        {
            preset,
            config,
            archs,
            ladder,
            seeds,
            seedList,
            tokens,
            steps,
            batch,
            seqLen,
            lr,
            warmup,
            dropout,
            evalEvery,
            evalBatches,
            ckptEvery,
            threads,
            valueUpdates,
            corpus,
            vocab,
            outDir,
            reportOnly,
            keepOptimizer,
            retrainStale,
            cache,
            device,
        };
        cmd.SetAction(r =>
        {
            var dev = Platform.Devices.Parse(r.GetValue(device)!); // before any work: a missing GPU is one line
            bool isLadder = r.GetValue(ladder);
            string kind = isLadder ? CompareSettings.LadderKind : CompareSettings.FamilyKind;
            string? configPath = r.GetValue(config);
            string modelName = configPath is null ? r.GetValue(preset)! : Path.GetFileNameWithoutExtension(configPath);
            string folder = r.GetValue(outDir) ?? Path.Combine("runs", $"{(isLadder ? "ladder" : "compare")}-{modelName}");

            if (r.GetValue(reportOnly))
            {
                Print(ComparisonReport.Write(folder));
                return 0;
            }

            var t = new TrainConfig
            {
                Corpus = r.GetValue(corpus) ?? "brown",
                TokenizerVocabSize = r.GetValue(vocab) ?? 8192,
                BatchSize = r.GetValue(batch) ?? DefaultBatch,
                SeqLen = r.GetValue(seqLen),
                LearningRate = r.GetValue(lr) ?? DefaultLr,
                WarmupSteps = r.GetValue(warmup),
                EvalBatches = r.GetValue(evalBatches) ?? DefaultEvalBatches,
                Threads = r.GetValue(threads) ?? Environment.ProcessorCount,
                ValueUpdates = r.GetValue(valueUpdates) is { } vu ? Cli.ParseEnum<ValueUpdates>(vu, "--value-updates") : ValueUpdates.Dense,
                KeepCheckpoints = 1,
            };
            ModelConfig baseModel;
            if (configPath is not null)
            {
                if (r.GetResult(preset) is System.CommandLine.Parsing.OptionResult { Implicit: false })
                    throw new UltraMemException("--config and --preset both choose the base model; give one");
                if (!File.Exists(configPath))
                    throw new UltraMemException($"model config not found: {configPath}");
                baseModel = Families.Backbone(ModelConfig.FromJson(File.ReadAllText(configPath), configPath));
            }
            else
                baseModel = ModelConfig.Preset(modelName, t.TokenizerVocabSize);
            baseModel = baseModel with { Dropout = r.GetValue(dropout) ?? DefaultDropout };
            int seq = t.SeqLen ?? baseModel.MaxSeqLen;
            long tokensPerStep = (long)t.BatchSize * seq;
            if (tokensPerStep <= 0)
                throw new UltraMemException("--batch-size and --seq-len must be positive");
            long maxSteps;
            if (r.GetValue(steps) is { } st)
            {
                if (r.GetValue(tokens) is not null)
                    throw new UltraMemException("--tokens and --steps both set the budget; give one");
                maxSteps = st;
            }
            else
                maxSteps = (ParseTokens(r.GetValue(tokens) ?? DefaultTokens) + tokensPerStep - 1) / tokensPerStep;
            long eval = r.GetValue(evalEvery) ?? Math.Max(1, (maxSteps + EvalsPerRun - 1) / EvalsPerRun);
            t = t with { MaxSteps = maxSteps, EvalInterval = eval, CheckpointInterval = r.GetValue(ckptEvery) ?? eval };

            var settings = new CompareSettings
            {
                Kind = kind,
                ModelName = modelName,
                BaseModel = baseModel,
                Train = t,
            };
            settings.Train.Validate(baseModel.MaxSeqLen);
            var archList = r.GetValue(archs) is { } a ? Cli.ParseList(a, "--archs").ToList() : Comparison.DefaultArchs(kind).ToList();
            Comparison.ValidateArchs(kind, archList);
            var seedValues = SeedList(r.GetValue(seeds), r.GetValue(seedList));

            int runs = archList.Count * seedValues.Count;
            Console.Error.WriteLine(
                $"compare ({kind}) on {modelName}: {archList.Count} architecture{(archList.Count == 1 ? "" : "s")} × {seedValues.Count} seed{(seedValues.Count == 1 ? "" : "s")} = {runs} run{(runs == 1 ? "" : "s")} of {maxSteps} steps × {t.BatchSize}×{seq} = "
                    + $"{maxSteps * tokensPerStep:N0} tokens; {t.Threads} threads -> {folder}"
            );
            using var cts = Cli.InstallCtrlC();
            var outcome = Comparison.Run(
                new CompareRequest
                {
                    OutDir = folder,
                    Device = dev,
                    Settings = settings,
                    Archs = archList,
                    Seeds = seedValues,
                    CacheDir = r.GetValue(cache)!,
                    Cancel = cts.Token,
                    KeepOptimizerState = r.GetValue(keepOptimizer),
                    RetrainStale = r.GetValue(retrainStale),
                    Command = "ultramem " + string.Join(" ", r.Tokens.Select(x => x.Value)),
                }
            );
            Console.WriteLine();
            Print(outcome.Report);
            if (outcome.Interrupted)
            {
                Console.WriteLine(
                    $"stopped: {outcome.Trained} run{(outcome.Trained == 1 ? "" : "s")} finished in this session; run the same command again to continue"
                );
                return 130;
            }
            Console.WriteLine($"all {outcome.Planned} runs recorded ({outcome.Skipped} from earlier sessions)");
            return 0;
        });
        return cmd;
    }

    static void Print(ComparisonReport report)
    {
        Cli.PrintTable(report.Headers, report.Rows);
        if (report.Verdict is not null)
        {
            Console.WriteLine();
            Console.WriteLine(report.Verdict);
        }
        foreach (var n in report.Notes)
            Console.WriteLine("note: " + n);
        Console.WriteLine($"reports: {report.MarkdownPath}, {report.CsvPath}, {report.PngPath}");
    }

    static List<ulong> SeedList(int? count, string? list)
    {
        if (list is not null)
        {
            if (count is not null)
                throw new UltraMemException("--seeds and --seed-list both choose the seeds; give one");
            return Cli.ParseList(list, "--seed-list")
                .Select(x =>
                    ulong.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out var v)
                        ? v
                        : throw new UltraMemException($"--seed-list: '{x}' is not a non-negative integer")
                )
                .ToList();
        }
        int n = count ?? DefaultSeeds;
        if (n < 1)
            throw new UltraMemException($"--seeds must be at least 1 (got {n})");
        return Enumerable.Range(1, n).Select(i => (ulong)i).ToList();
    }

    /// <summary>"360k", "1.5M", "400000" → tokens.</summary>
    public static long ParseTokens(string s)
    {
        string t = s.Trim();
        double mult = 1;
        if (t.EndsWith('k') || t.EndsWith('K'))
        {
            mult = 1e3;
            t = t[..^1];
        }
        else if (t.EndsWith('M') || t.EndsWith('m'))
        {
            mult = 1e6;
            t = t[..^1];
        }
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !(v * mult >= 1) || v * mult > 1e15)
            throw new UltraMemException($"--tokens: '{s}' is not a positive token count (e.g. 360k, 1.5M)");
        return (long)Math.Ceiling(v * mult);
    }
}
