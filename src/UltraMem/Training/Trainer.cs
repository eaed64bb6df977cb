using System.Diagnostics;
using UltraMem.Data;
using UltraMem.Model;
using UltraMem.Reporting;
using UltraMem.Tokenization;
using static TorchSharp.torch;

namespace UltraMem.Training;

/// <summary>
/// The training loop: deterministic batches (a pure function of seed and step), per-step dropout seeds,
/// AdamW with named parameter groups (value tables dense or row-sparse, see <see cref="TrainConfig.ValueUpdates"/>),
/// warmup + cosine schedule, gradient accumulation and global-norm clipping (row-sparse gradients included),
/// periodic validation, atomic checkpoints, metrics to JSONL/CSV and a loss-curve PNG.
/// Because nothing depends on hidden RNG state, resuming from a checkpoint reproduces the uninterrupted run
/// exactly (same thread count).
/// </summary>
public static class Trainer
{
    /// <summary>Nats above ln(vocab) (a uniform guess) that count as an exploding loss, and for how many steps after warmup.</summary>
    public const double ExplodingMargin = 2;

    /// <summary>Consecutive steps after warmup with the loss above ln(vocab) + <see cref="ExplodingMargin"/> that stop a run.</summary>
    public const int ExplodingSteps = 20;

    /// <summary>The name of the first parameter holding a NaN or an infinity, or null.</summary>
    static string? FirstNonFinite(TransformerLM model)
    {
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            using var finite = p.isfinite().all();
            if (!finite.item<bool>())
                return name;
        }
        return null;
    }

    public static TrainResult Run(TrainRequest req)
    {
        FileStream? createdLock = null; // the lock of a run folder this call creates, held to the end like the others
        try
        {
            return Run(req, l => createdLock = l);
        }
        finally
        {
            createdLock?.Dispose();
        }
    }

    static TrainResult Run(TrainRequest req, Action<FileStream> holdLock)
    {
        Checkpoint? resumeFrom = null;
        ResumePoint? restart = null; // a run stopped before its first complete checkpoint: the same run again from step 0
        if (req.Resume)
        {
            var record = req.ResumeFrom ?? ResumePoint.Open(req.RunDir);
            resumeFrom = record.Latest;
            restart = resumeFrom is null ? record : null;
        }
        else if (
            System.IO.Directory.Exists(Path.Combine(req.RunDir, "checkpoints")) || File.Exists(Path.Combine(req.RunDir, "metrics.jsonl"))
        )
            throw new UltraMemException(
                $"{req.RunDir} already holds a training run; pass --resume to continue it or choose another --out folder"
            );

        // one writer per run folder: a second train (or a resume next to a running one) stops here
        using var runLock = System.IO.Directory.Exists(req.RunDir) ? IO.FolderLock.Acquire(req.RunDir, "ultramem train") : null;
        var train = resumeFrom?.TrainConfig ?? restart?.TrainConfig ?? req.Train;
        set_num_threads(train.Threads ?? Environment.ProcessorCount);
        TextTokenizer? tokenizer = resumeFrom?.LoadTokenizer();
        using var data = PreparedData.Prepare(
            train.Corpus,
            train.TokenizerVocabSize,
            train.ValidationFraction,
            req.CacheDir,
            tokenizer,
            req.Log
        );
        tokenizer = data.Tokenizer;
        if (resumeFrom is not null && resumeFrom.State.TokenizerFingerprint != tokenizer.Fingerprint)
            throw new UltraMemException($"the tokenizer in {resumeFrom.Directory} does not match the one recorded in its trainer state");

        // a new run records its resolved config: every default its layers use, so later changes of a default cannot change it
        var modelConfig = resumeFrom?.ModelConfig ?? restart?.ModelConfig ?? (req.Model with { VocabSize = tokenizer.VocabSize }).Resolve();
        if (modelConfig.VocabSize != tokenizer.VocabSize)
            throw new UltraMemException($"model vocab_size {modelConfig.VocabSize} does not match the tokenizer's {tokenizer.VocabSize}");
        train = train.Validate(modelConfig.MaxSeqLen);
        int seqLen = train.SeqLen ?? modelConfig.MaxSeqLen;

        manual_seed(unchecked((long)train.Seed));
        var device = req.Device ?? CPU;
        using var model = (resumeFrom?.LoadModel() ?? new TransformerLM(modelConfig)).ToDevice(device);
        var groups = ParameterGroups.ForModel(model, train.WeightDecay, train.MaxSteps);
        // value_updates: the layers read their value tables row-sparsely (and AdamW updates them lazily) or densely;
        // set on every run, resumed ones included (the checkpoint's train config decides)
        var rowSparseTables = model.RowSparseTables();
        foreach (var (_, table) in rowSparseTables)
            table.Enabled = train.ValueUpdates == ValueUpdates.RowSparse;
        using var optimizer = new AdamW(groups, train.Beta1, train.Beta2, train.Eps, rowSparse: rowSparseTables);
        long step = 0,
            tokensSeen = 0;
        double elapsedBefore = 0;
        var metrics = new MetricsLog(req.RunDir);
        if (resumeFrom is not null)
        {
            resumeFrom.LoadOptimizer(optimizer);
            step = resumeFrom.State.Step;
            tokensSeen = resumeFrom.State.TokensSeen;
            elapsedBefore = resumeFrom.State.ElapsedSeconds;
            metrics.TruncateAfter(step);
            req.Log($"resuming {req.RunDir} at step {step} from {resumeFrom.Directory}");
        }
        else if (restart is not null)
        {
            metrics.TruncateAfter(0); // the steps it logged were not saved: they are trained again
            req.Log($"{req.RunDir} was stopped before its first checkpoint was complete: starting its recorded run again from step 0");
        }
        else
        {
            System.IO.Directory.CreateDirectory(req.RunDir);
            if (runLock is null)
                holdLock(IO.FolderLock.Acquire(req.RunDir, "ultramem train"));
            IO.AtomicFile.WriteAllText(Path.Combine(req.RunDir, Checkpoint.ModelConfigFile), modelConfig.ToJson());
            IO.AtomicFile.WriteAllText(Path.Combine(req.RunDir, Checkpoint.TrainConfigFile), train.ToJson());
        }

        var schedule = new LearningRateSchedule(train.LearningRate, train.WarmupResolved, train.MaxSteps, train.MinLrRatio);
        var parameters = model.parameters().ToList();
        long stopAt = Math.Min(train.MaxSteps, req.StopAfterStep ?? long.MaxValue);
        long tokensPerStep = (long)train.BatchSize * seqLen * train.GradAccum;
        double? lastVal = resumeFrom?.State.LastValidationLoss;
        string lastCheckpoint = resumeFrom?.Directory ?? "";
        var clock = Stopwatch.StartNew();
        var rate = new RateMeter();
        bool interrupted = false;

        TrainerState State() =>
            new()
            {
                Step = step,
                TokensSeen = tokensSeen,
                ElapsedSeconds = elapsedBefore + clock.Elapsed.TotalSeconds,
                TokenizerFingerprint = tokenizer.Fingerprint,
                LastValidationLoss = lastVal,
            };
        void SaveCheckpoint()
        {
            // `latest` only ever names finite weights: a diverged update is caught here, before it can be saved
            if (FirstNonFinite(model) is { } bad)
                throw new UltraMemException(
                    $"training diverged at step {step}: {bad} is not finite; the last checkpoint"
                        + (lastCheckpoint.Length > 0 ? $" ({lastCheckpoint})" : "")
                        + $" holds finite weights; lower the learning rate (now {train.LearningRate})"
                );
            lastCheckpoint = Checkpoint.Save(req.RunDir, model, optimizer, train, State(), tokenizer, train.KeepCheckpoints);
        }
        // a loss this far above a uniform guess, step after step past the warmup, is a run that will not come back
        double explodingLoss = Math.Log(modelConfig.VocabSize) + ExplodingMargin;
        int stepsAbove = 0;

        req.Log(
            $"model: {Format.Count(model.parameters().Sum(p => p.numel()))} parameters; {data.Describe()}; {tokensPerStep} tokens/step"
        );
        using (var bar = req.ShowProgress ? new ProgressBar(req.ProgressLabel, train.MaxSteps, step) : null)
        {
            model.train();
            while (step < stopAt)
            {
                if (req.Cancel.IsCancellationRequested)
                {
                    interrupted = true;
                    break;
                }
                double lr = schedule.At(step);
                manual_seed(unchecked((long)(train.Seed * 1_000_003UL + (ulong)step))); // dropout masks: a function of the step
                double lossSum = 0;
                for (int micro = 0; micro < train.GradAccum; micro++)
                {
                    using var scope = NewDisposeScope();
                    var (xc, yc) = data.TrainBatch(train.BatchSize, seqLen, train.Seed, step, micro);
                    var (x, y) = (xc.to(device), yc.to(device));
                    var logits = model.forward(x);
                    var loss = TransformerLM.CrossEntropy(logits, y);
                    lossSum += loss.item<float>();
                    var total = model.AuxiliaryLoss() is { } aux ? loss + aux : loss;
                    (total / train.GradAccum).backward();
                }
                double gradNorm =
                    train.GradClip > 0
                        ? GradientClipping.ClipGlobalNorm(parameters, rowSparseTables.Select(t => t.Gradient), train.GradClip)
                        : double.NaN;
                if (train.GradClip > 0 && !double.IsFinite(gradNorm))
                    throw new UltraMemException(
                        $"training diverged at step {step + 1} (gradient norm {gradNorm}, the update was not applied); "
                            + $"lower the learning rate (now {train.LearningRate})"
                    );
                optimizer.Step(lr);
                optimizer.ZeroGrad();
                model.AfterOptimizerStep();
                step++;
                tokensSeen += tokensPerStep;
                double trainLoss = lossSum / train.GradAccum;
                if (!double.IsFinite(trainLoss))
                    throw new UltraMemException(
                        $"training diverged at step {step} (loss {trainLoss}); lower the learning rate (now {train.LearningRate})"
                    );
                stepsAbove = step > train.WarmupResolved && trainLoss > explodingLoss ? stepsAbove + 1 : 0;
                if (stepsAbove >= ExplodingSteps)
                    throw new UltraMemException(
                        $"training diverged: the loss stayed above ln(vocab) + {ExplodingMargin} = {explodingLoss:F2} for {ExplodingSteps} "
                            + $"steps (now {trainLoss:F2} at step {step}); lower the learning rate (now {train.LearningRate})"
                    );
                double tps = rate.Add(tokensPerStep, clock.Elapsed.TotalSeconds);
                metrics.Append(
                    new MetricRecord(
                        step,
                        "train",
                        new Dictionary<string, double>
                        {
                            ["loss"] = trainLoss,
                            ["lr"] = lr,
                            ["grad_norm"] = gradNorm,
                            ["tokens_per_s"] = tps,
                            ["tokens"] = tokensSeen,
                            ["elapsed_s"] = elapsedBefore + clock.Elapsed.TotalSeconds,
                        }
                    )
                );
                bar?.Report(
                    step,
                    $"loss {trainLoss:F3}" + (lastVal is { } lv ? $" val {lv:F3}" : "") + $" | {Format.Count((long)tps)} tok/s"
                );

                bool last = step == train.MaxSteps;
                if (step % train.EvalInterval == 0 || last)
                {
                    // memory-layer diagnostics: the training window since the last evaluation, then the evaluation pass
                    if (model.Diagnostics(reset: true) is { Count: > 0 } trainDiag)
                        metrics.Append(new MetricRecord(step, "mem_train", trainDiag));
                    var val = Evaluate(model, data, train.BatchSize, seqLen, last ? null : train.EvalBatches);
                    if (model.Diagnostics(reset: true) is { Count: > 0 } valDiag)
                        metrics.Append(new MetricRecord(step, "mem_val", valDiag));
                    lastVal = val;
                    metrics.Append(
                        new MetricRecord(
                            step,
                            "val",
                            new Dictionary<string, double>
                            {
                                ["loss"] = val,
                                ["ppl"] = Math.Exp(val),
                                ["tokens"] = tokensSeen,
                                ["elapsed_s"] = elapsedBefore + clock.Elapsed.TotalSeconds,
                            }
                        )
                    );
                    bar?.WriteLine($"step {step, 6}  train {trainLoss:F4}  val {val:F4}  ppl {Math.Exp(val):F1}  lr {lr:E2}");
                    model.train();
                }
                if (step % train.CheckpointInterval == 0 || last)
                    SaveCheckpoint();
            }
            if (interrupted || (step == stopAt && lastCheckpoint != CheckpointDirFor(req.RunDir, step)))
                SaveCheckpoint();
        }
        var all = metrics.ReadAll();
        LossPlot.Save(
            Path.Combine(req.RunDir, "loss.png"),
            all,
            $"{Path.GetFileName(Path.GetFullPath(req.RunDir))}: {Format.Count(model.parameters().Sum(p => p.numel()))} params",
            data.UnigramEntropy,
            $"unigram entropy {data.UnigramEntropy:F2}"
        );
        if (interrupted)
            req.Log($"interrupted: saved {lastCheckpoint}; continue with --resume");
        return new TrainResult(req.RunDir, lastCheckpoint, step, interrupted, lastVal, data.UnigramEntropy, rate.Overall, all);
    }

    static string CheckpointDirFor(string runDir, long step) => Path.Combine(runDir, "checkpoints", $"step-{step:D7}");

    /// <summary>Mean next-token loss over validation windows (all of them when <paramref name="maxBatches"/> is null).</summary>
    public static double Evaluate(TransformerLM model, PreparedData data, int batchSize, int seqLen, int? maxBatches)
    {
        model.eval();
        using var _ = no_grad();
        double sum = 0;
        long n = 0;
        foreach (var (x, y) in data.ValidationBatches(batchSize, seqLen, maxBatches))
        {
            using var scope = NewDisposeScope();
            var loss = TransformerLM.CrossEntropy(model.forward(x.to(model.Device)), y.to(model.Device));
            long count = y.numel();
            sum += loss.item<float>() * count;
            n += count;
        }
        if (n == 0)
            throw new UltraMemException(
                $"the validation split has fewer than {seqLen + 1} tokens; lower seq_len or raise validation_fraction"
            );
        return sum / n;
    }

    /// <summary>Tokens per second over a sliding window of recent steps, and overall.</summary>
    sealed class RateMeter
    {
        readonly Queue<(double Time, long Tokens)> _window = new();
        long _total;
        double _start = double.NaN,
            _last;
        public double Overall => _last > _start ? _total / (_last - _start) : 0;

        public double Add(long tokens, double now)
        {
            if (double.IsNaN(_start))
                _start = 0;
            _total += tokens;
            _last = now;
            _window.Enqueue((now, tokens));
            while (_window.Count > 20)
                _window.Dequeue();
            double span = now - (_window.Count > 1 ? _window.Peek().Time : 0);
            long sum = _window.Skip(_window.Count > 1 ? 1 : 0).Sum(w => w.Tokens);
            return span > 0 ? sum / span : 0;
        }
    }
}
