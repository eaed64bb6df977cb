using UltraMem.Model;

namespace UltraMem.Inference;

/// <summary>
/// Resident memory of evaluating or sampling from a model, estimated from its config before the weights are loaded, so
/// that a checkpoint or batch too big for the machine is one error line instead of an allocator failure or an
/// out-of-memory kill. The training counterpart is <c>Training.TrainingMemory</c>.
/// </summary>
public static class InferenceMemory
{
    /// <summary>
    /// Bytes of one gradient-free forward pass over <paramref name="rows"/> × <paramref name="seqLen"/> tokens: the f32
    /// weights, plus what is alive at the widest point — the logits and their log-softmax (2·V per token), a block's
    /// attention scores and weights (2·H·T² per sequence) and a few D-wide activations (8·D per token).
    /// </summary>
    public static double EvaluationBytes(ModelConfig model, long rows, int seqLen)
    {
        var c = model.Resolve();
        double tokens = (double)rows * seqLen;
        double activations = tokens * (2.0 * c.VocabSize + 8.0 * c.DModel) + 2.0 * rows * c.NHeads * (double)seqLen * seqLen;
        return WeightBytes(c) + 4.0 * activations;
    }

    /// <summary>Bytes of sampling one sequence: the weights, the KV cache for max_seq_len positions (2·L·T·D floats) and the
    /// prompt pass (<see cref="EvaluationBytes"/> at one sequence of max_seq_len, which bounds any prompt).</summary>
    public static double GenerationBytes(ModelConfig model)
    {
        var c = model.Resolve();
        double kv = 2.0 * c.NLayers * c.MaxSeqLen * c.DModel * 4.0;
        return EvaluationBytes(c, 1, c.MaxSeqLen) + kv;
    }

    /// <summary>f32 bytes of every parameter of the model.</summary>
    public static double WeightBytes(ModelConfig model) => 4.0 * ModelAccounting.Total(model.Resolve()).Total;

    /// <summary>
    /// Throws a one-line <see cref="UltraMemException"/> naming <paramref name="what"/> when <paramref name="bytes"/> exceed
    /// <paramref name="availableBytes"/>: it says how much the weights take, and gives <paramref name="smallerBatch"/> (the
    /// option to lower) only when the weights alone would fit.
    /// </summary>
    public static void EnsureFits(string what, ModelConfig model, double bytes, double availableBytes, string? smallerBatch = null)
    {
        if (bytes <= availableBytes)
            return;
        double weights = WeightBytes(model);
        string advice =
            weights > availableBytes || smallerBatch is null
                ? "the model is too big for this machine's free memory"
                : $"use a smaller {smallerBatch}";
        throw new UltraMemException(
            $"{what} needs about {bytes / 1e9:F1} GB (weights {weights / 1e9:F1} GB), {availableBytes / 1e9:F1} GB available: {advice}"
        );
    }
}
