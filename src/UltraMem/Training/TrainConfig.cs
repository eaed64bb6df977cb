using System.Text.Json;

namespace UltraMem.Training;

/// <summary>Training settings. Serialises to JSON with snake_case names; defaults follow the papers' recipe.</summary>
public sealed record TrainConfig
{
    /// <summary><c>brown</c> (bundled), <c>sotu</c>, <c>moby-dick</c>, or a path to .txt/.jsonl files or a folder.</summary>
    public string Corpus { get; init; } = "brown";
    public int TokenizerVocabSize { get; init; } = 8192;
    public double ValidationFraction { get; init; } = 0.05;
    public int BatchSize { get; init; } = 16;

    /// <summary>Tokens per training sequence; null means the model's max_seq_len.</summary>
    public int? SeqLen { get; init; }
    public int GradAccum { get; init; } = 1;
    public long MaxSteps { get; init; } = 1000;
    public double LearningRate { get; init; } = 3e-3;

    /// <summary>null means 2% of max_steps (at least 1).</summary>
    public long? WarmupSteps { get; init; }
    public double MinLrRatio { get; init; } = 0.1;
    public double WeightDecay { get; init; } = 0.1;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double Eps { get; init; } = 1e-8;

    /// <summary>Global gradient-norm clip; 0 disables.</summary>
    public double GradClip { get; init; } = 1.0;
    public long EvalInterval { get; init; } = 100;

    /// <summary>Validation batches per periodic evaluation; null evaluates the whole validation split.</summary>
    public int? EvalBatches { get; init; } = 20;
    public long CheckpointInterval { get; init; } = 250;
    public int KeepCheckpoints { get; init; } = 2;
    public ulong Seed { get; init; } = 1234;

    /// <summary>Intra-op threads; null means all cores. Bitwise-reproducible resume needs the same value.</summary>
    public int? Threads { get; init; }

    /// <summary>
    /// How memory layers' value tables are updated: <c>dense</c> (exact AdamW on a dense gradient, as in the papers) or
    /// <c>row_sparse</c> (only the rows a step selected: row-sparse gradient and lazy AdamW, cost independent of the
    /// table size; see docs/training.md).
    /// </summary>
    public ValueUpdates ValueUpdates { get; init; } = ValueUpdates.Dense;

    public const ValueUpdates DenseValueUpdates = ValueUpdates.Dense,
        RowSparseValueUpdates = ValueUpdates.RowSparse;

    public long WarmupResolved => WarmupSteps ?? Math.Max(1, MaxSteps / 50);

    public TrainConfig Validate(int modelMaxSeqLen)
    {
        void Check(bool ok, string what)
        {
            if (!ok)
                throw new UltraMemException($"invalid training config: {what}");
        }
        Check(
            TokenizerVocabSize >= 257 && TokenizerVocabSize <= 1 << 20,
            $"tokenizer_vocab_size must be in [257, 1048576] (got {TokenizerVocabSize})"
        );
        Check(ValidationFraction > 0 && ValidationFraction < 1, $"validation_fraction must be in (0, 1) (got {ValidationFraction})");
        Check(BatchSize > 0, $"batch_size must be positive (got {BatchSize})");
        Check(SeqLen is null || SeqLen > 0, $"seq_len must be positive (got {SeqLen})");
        Check((SeqLen ?? modelMaxSeqLen) <= modelMaxSeqLen, $"seq_len {SeqLen} exceeds the model's max_seq_len {modelMaxSeqLen}");
        Check(GradAccum > 0, $"grad_accum must be positive (got {GradAccum})");
        Check(MaxSteps > 0, $"max_steps must be positive (got {MaxSteps})");
        Check(LearningRate > 0 && double.IsFinite(LearningRate), $"learning_rate must be positive (got {LearningRate})");
        Check(
            WarmupSteps is null || (WarmupSteps >= 1 && WarmupSteps <= MaxSteps),
            $"warmup_steps must be in [1, max_steps] (got {WarmupSteps})"
        );
        Check(MinLrRatio >= 0 && MinLrRatio <= 1, $"min_lr_ratio must be in [0, 1] (got {MinLrRatio})");
        Check(WeightDecay >= 0, $"weight_decay must be >= 0 (got {WeightDecay})");
        Check(Beta1 >= 0 && Beta1 < 1 && Beta2 >= 0 && Beta2 < 1, "beta1 and beta2 must be in [0, 1)");
        Check(Eps > 0, "eps must be positive");
        Check(GradClip >= 0, $"grad_clip must be >= 0 (got {GradClip})");
        Check(EvalInterval > 0, $"eval_interval must be positive (got {EvalInterval})");
        Check(EvalBatches is null || EvalBatches > 0, $"eval_batches must be positive (got {EvalBatches})");
        Check(CheckpointInterval > 0, $"checkpoint_interval must be positive (got {CheckpointInterval})");
        Check(KeepCheckpoints >= 1, $"keep_checkpoints must be >= 1 (got {KeepCheckpoints})");
        Check(Threads is null || Threads > 0, $"threads must be positive (got {Threads})");
        Check(
            Threads is null || Threads <= 4 * Environment.ProcessorCount,
            $"threads must be at most 4 × the {Environment.ProcessorCount} cores (got {Threads}); more only oversubscribe them"
        );
        Check(BatchSize <= 1 << 20 && GradAccum <= 1 << 20, "batch_size and grad_accum must be at most 1048576");
        Check(MaxSteps <= 1L << 40, $"max_steps must be at most 2^40 (got {MaxSteps})");
        Check(IO.JsonEnum.IsDefined(ValueUpdates), IO.JsonEnum.Expected(typeof(ValueUpdates), ValueUpdates.ToString()));
        return this;
    }

    public string ToJson() => JsonSerializer.Serialize(this, Model.ModelConfig.Json);

    public static TrainConfig FromJson(string json, string source)
    {
        try
        {
            IO.StrictJson.Check(json, Model.ModelConfig.JsonOptions);
            return JsonSerializer.Deserialize<TrainConfig>(json, Model.ModelConfig.Json)
                ?? throw new UltraMemException($"{source}: empty training config");
        }
        catch (JsonException e)
        {
            throw new UltraMemException($"{source}: invalid training config JSON: {IO.StrictJson.Describe(e)}", e);
        }
    }
}
