using UltraMem.Data.Tasks;
using UltraMem.Model;
using UltraMem.Tokenization;
using static TorchSharp.torch;

namespace UltraMem.Inference;

/// <summary>
/// A model's score on one task example, on the answer's tokens only (docs/tasks.md): exact match — every answer token is the
/// model's most likely next token given the prompt and the answer so far, which is exactly "greedy decoding writes the
/// answer" — and the mean cross-entropy of the answer tokens.
/// </summary>
public sealed record AnswerScore(bool Correct, double Loss, int AnswerTokens)
{
    /// <summary>
    /// From next-token logits [T, V] over a sequence whose tokens 1…T are <paramref name="targets"/> (targets[t] follows position t)
    /// and whose answer is targets[<paramref name="answerFrom"/>…]: only those positions count.
    /// </summary>
    public static AnswerScore FromLogits(Tensor logits, long[] targets, int answerFrom)
    {
        if (logits.dim() != 2 || logits.shape[0] != targets.Length)
            throw new ArgumentException($"logits [{string.Join(", ", logits.shape)}] do not match {targets.Length} targets");
        if (answerFrom < 0 || answerFrom >= targets.Length)
            throw new ArgumentOutOfRangeException(nameof(answerFrom), $"the answer must start inside the {targets.Length} targets");
        using var scope = NewDisposeScope();
        int n = targets.Length - answerFrom;
        var answerLogits = logits.narrow(0, answerFrom, n).to(ScalarType.Float32);
        var answer = tensor(targets[answerFrom..], ScalarType.Int64, device: logits.device);
        double loss = nn.functional.cross_entropy(answerLogits, answer).item<float>();
        bool correct = answerLogits.argmax(-1).eq(answer).all().item<bool>();
        return new AnswerScore(correct, loss, n);
    }

    /// <summary>Scores <paramref name="example"/> with one forward pass of <paramref name="model"/> over prompt + answer.</summary>
    public static AnswerScore Of(TransformerLM model, TextTokenizer tokenizer, TaskExample example)
    {
        var prompt = tokenizer.Encode(example.Prompt);
        var whole = tokenizer.Encode(example.Prompt + example.Answer); // the answer as it tokenises after the prompt
        if (whole.Length <= prompt.Length || !whole.AsSpan(0, prompt.Length).SequenceEqual(prompt))
            throw new UltraMemException(
                $"{example.Task}: the prompt's tokens change when the answer follows it; end prompts at a word boundary"
            );
        var all = whole.Select(t => (long)t).ToArray();
        if (all.Length > model.Config.MaxSeqLen + 1)
            throw new UltraMemException(
                $"{example.Task}: an example of {all.Length} tokens exceeds max_seq_len {model.Config.MaxSeqLen} + 1"
            );
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var input = tensor(all[..^1], ScalarType.Int64, device: model.Device).unsqueeze(0);
        var logits = model.forward(input).squeeze(0); // [T, V]
        return FromLogits(logits, all[1..], prompt.Length - 1);
    }
}
