using System.CommandLine;
using UltraMem.Training;

namespace UltraMem.Cli.Commands;

static class TrainCommand
{
    public static Command Create()
    {
        var modelOptions = Cli.ModelOptions.Create();
        var trainConfig = Cli.Opt<string?>("--train-config", "Training config JSON (snake_case TrainConfig); flags below override it.");
        var corpus = Cli.Opt<string?>("--corpus", "brown (bundled), sotu, moby-dick, or a .txt/.jsonl file or folder.");
        var vocab = Cli.Opt<int?>("--vocab-size", "Tokenizer vocabulary size to train (default 8192).");
        var steps = Cli.Opt<long?>("--steps", "Optimizer steps (max_steps).");
        var batch = Cli.Opt<int?>("--batch-size", "Sequences per micro-batch.");
        var seqLen = Cli.Opt<int?>("--seq-len", "Tokens per sequence (default: the model's max_seq_len).");
        var accum = Cli.Opt<int?>("--grad-accum", "Micro-batches per optimizer step.");
        var lr = Cli.Opt<double?>("--lr", "Peak learning rate.");
        var warmup = Cli.Opt<long?>("--warmup", "Warmup steps (default 2% of steps).");
        var evalEvery = Cli.Opt<long?>("--eval-interval", "Steps between validation runs.");
        var ckptEvery = Cli.Opt<long?>("--checkpoint-interval", "Steps between checkpoints.");
        var seed = Cli.Opt<ulong?>("--seed", "Random seed (init, batches, dropout).");
        var threads = Cli.Opt<int?>("--threads", "Intra-op threads (default: all cores).");
        var valueUpdates = Cli.Opt<string?>(
            "--value-updates",
            "Memory value tables: dense (exact AdamW, default) or row_sparse (only the selected rows; lazy AdamW)."
        );
        var outDir = Cli.Opt("--out", "Run folder: checkpoints, metrics.jsonl/csv, loss.png.", "runs/train", true);
        var resume = Cli.Opt<bool>("--resume", "Continue the run in --out from its latest checkpoint.");
        var cache = Cli.CacheDir();
        var device = Cli.Device();
        var cmd = new Command("train", "Train a language model on a corpus (Ctrl-C saves a checkpoint; --resume continues exactly).")
        {
            trainConfig,
            corpus,
            vocab,
            steps,
            batch,
            seqLen,
            accum,
            lr,
            warmup,
            evalEvery,
            ckptEvery,
            seed,
            threads,
            valueUpdates,
            outDir,
            resume,
            cache,
            device,
        };
        modelOptions.AddTo(cmd);
        var sets = Cli.SetOption.Create(takesTrain: true);
        sets.AddTo(cmd);
        // each flag and the training-config field it sets (a resumed run names the flag that would change it)
        var flagFields = new (string Flag, string Field)[]
        {
            ("--corpus", "corpus"),
            ("--vocab-size", "tokenizer_vocab_size"),
            ("--steps", "max_steps"),
            ("--batch-size", "batch_size"),
            ("--seq-len", "seq_len"),
            ("--grad-accum", "grad_accum"),
            ("--lr", "learning_rate"),
            ("--warmup", "warmup_steps"),
            ("--eval-interval", "eval_interval"),
            ("--checkpoint-interval", "checkpoint_interval"),
            ("--seed", "seed"),
            ("--threads", "threads"),
            ("--value-updates", "value_updates"),
        };
        cmd.SetAction(r =>
        {
            var dev = Platform.Devices.Parse(r.GetValue(device)!); // before any work: a missing GPU is one line
            bool Given(string flag) => r.GetResult(flag) is System.CommandLine.Parsing.OptionResult { Implicit: false };
            TrainConfig WithFlags(TrainConfig t) =>
                t with
                {
                    Corpus = Cli.CorpusArgument(r.GetValue(corpus) ?? t.Corpus),
                    TokenizerVocabSize = r.GetValue(vocab) ?? t.TokenizerVocabSize,
                    MaxSteps = r.GetValue(steps) ?? t.MaxSteps,
                    BatchSize = r.GetValue(batch) ?? t.BatchSize,
                    SeqLen = r.GetValue(seqLen) ?? t.SeqLen,
                    GradAccum = r.GetValue(accum) ?? t.GradAccum,
                    LearningRate = r.GetValue(lr) ?? t.LearningRate,
                    WarmupSteps = r.GetValue(warmup) ?? t.WarmupSteps,
                    EvalInterval = r.GetValue(evalEvery) ?? t.EvalInterval,
                    CheckpointInterval = r.GetValue(ckptEvery) ?? t.CheckpointInterval,
                    Seed = r.GetValue(seed) ?? t.Seed,
                    Threads = r.GetValue(threads) ?? t.Threads,
                    ValueUpdates = r.GetValue(valueUpdates) is { } vu ? Cli.ParseEnum<ValueUpdates>(vu, "--value-updates") : t.ValueUpdates,
                };
            bool isResume = r.GetValue(resume);
            ResumePoint? run = null; // opened once: compared here, continued by the trainer
            if (isResume)
            {
                // compare what was asked for with the run (resolved configs): naming the run's own settings again is fine
                run = ResumePoint.Open(r.GetValue(outDir)!);
                var asked = sets.ApplyTrain(r, WithFlags(r.GetValue(trainConfig) is { } tc ? Cli.ReadTrainConfig(tc) : run.TrainConfig));
                var modelFlags = new[] { "--preset", "--arch", "--config", "--memory" }.Where(Given).ToList();
                var askedModel = sets.ApplyModel(
                    r,
                    modelFlags.Count > 0 ? modelOptions.Resolve(r, run.ModelConfig.VocabSize) : run.ModelConfig
                );
                if (RunDifference.Between(run, askedModel, asked).FirstOrDefault() is { } d)
                {
                    string flag =
                        d.Config == "model"
                            ? modelFlags.FirstOrDefault() ?? "--set"
                            : flagFields.FirstOrDefault(f => f.Field == d.Field && Given(f.Flag)).Flag
                                ?? (Given("--train-config") ? "--train-config" : "--set");
                    throw new UltraMemException($"--resume continues the run exactly as configured; {flag} cannot change it ({d})");
                }
            }
            var t = sets.ApplyTrain(r, WithFlags(Cli.ReadTrainConfig(r.GetValue(trainConfig))));
            var model = sets.ApplyModel(r, modelOptions.Resolve(r, t.TokenizerVocabSize));
            if (!isResume)
            {
                t.Validate(model.MaxSeqLen); // before anything is written (the corpus cache included)
                TrainingMemory.EnsureFits(model, t, Platform.MachineMemory.AvailableBytes());
            }
            // like bench: other busy processes make every step 10-100x slower; say so before an hour is lost
            var otherUse = Platform.MachineLoad.OtherCpuUse(TimeSpan.FromMilliseconds(300));
            if (Platform.MachineLoad.BusyWarning(otherUse, "training will be much slower than usual") is { } busy)
                Console.Error.WriteLine(busy);
            using var cts = Cli.InstallCtrlC();
            var result = Trainer.Run(
                new TrainRequest
                {
                    RunDir = r.GetValue(outDir)!,
                    Device = dev,
                    Model = model,
                    Train = t,
                    CacheDir = r.GetValue(cache)!,
                    Resume = isResume,
                    ResumeFrom = run,
                    Cancel = cts.Token,
                }
            );
            Console.WriteLine(
                result.Interrupted
                    ? $"stopped at step {result.Step}; checkpoint {result.CheckpointDir}"
                    : $"done: step {result.Step}, validation loss {result.FinalValidationLoss:F4} (ppl {Math.Exp(result.FinalValidationLoss ?? double.NaN):F1}); checkpoint {result.CheckpointDir}; curve {Path.Combine(result.RunDir, "loss.png")}"
            );
            return result.Interrupted ? 130 : 0;
        });
        return cmd;
    }
}
