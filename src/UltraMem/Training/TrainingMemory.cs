using UltraMem.Model;

namespace UltraMem.Training;

/// <summary>
/// A training run's resident memory, estimated from the configs before anything is allocated, so that an impossible
/// batch or model is one error line instead of an out-of-memory kill half an hour in.
/// </summary>
public static class TrainingMemory
{
    /// <summary>
    /// Bytes: weights, gradients and both AdamW moments (4 × 4 bytes per parameter; row-sparse tables get no dense gradient but
    /// the estimate keeps it), plus the activations autograd keeps for one micro-batch — per token and block about 16·D floats
    /// (norms, q/k/v, attention output, FFN), the scores B·H·T² per block, and the logits 2·V per token.
    /// </summary>
    public static (double Total, double State, double Activations) Estimate(ModelConfig model, TrainConfig train)
    {
        var c = model.Resolve();
        double parameters = ModelAccounting.Total(c).Total;
        double state = 16.0 * parameters;
        double tokens = (double)train.BatchSize * (train.SeqLen ?? c.MaxSeqLen);
        double perToken = c.NLayers * 16.0 * c.DModel + 2.0 * c.VocabSize;
        double scores = (double)train.BatchSize * c.NHeads * Math.Pow(train.SeqLen ?? c.MaxSeqLen, 2) * c.NLayers;
        double activations = 4.0 * (tokens * perToken + scores);
        return (state + activations, state, activations);
    }

    /// <summary>Throws a one-line <see cref="UltraMemException"/> when the estimate exceeds <paramref name="availableBytes"/>.</summary>
    public static void EnsureFits(ModelConfig model, TrainConfig train, double availableBytes)
    {
        var (total, state, activations) = Estimate(model, train);
        if (total > availableBytes)
            throw new UltraMemException(
                $"training needs about {total / 1e9:F1} GB (weights, gradients and AdamW moments {state / 1e9:F1} GB, activations of a "
                    + $"{train.BatchSize} × {train.SeqLen ?? model.MaxSeqLen} batch {activations / 1e9:F1} GB), {availableBytes / 1e9:F1} GB "
                    + "available: use a smaller --batch-size (with --grad-accum) or --seq-len, or a smaller model"
            );
    }
}
