using UltraMem.Data.Tasks;
using UltraMem.Inference;
using UltraMem.Model;
using UltraMem.Tests.Tokenization;
using UltraMem.Tokenization;
using static TorchSharp.torch;

namespace UltraMem.Tests.Data;

public class AnswerScoreTests
{
    [Fact]
    public void OnlyTheAnswerTokensCountAHandExample()
    {
        // 4 positions over a vocabulary of 3; the answer is the last two targets (2, 0)
        var logits = tensor(
            new float[]
            {
                0,
                0,
                9, // position 0: wrong for its target 1, but a prompt position: ignored
                9,
                0,
                0, // position 1: wrong for its target 2: ignored too
                0,
                0,
                5, // position 2: target 2, argmax 2
                5,
                0,
                0, // position 3: target 0, argmax 0
            },
            new long[] { 4, 3 }
        );
        var score = AnswerScore.FromLogits(logits, new long[] { 1, 2, 2, 0 }, answerFrom: 2);
        Assert.True(score.Correct);
        Assert.Equal(2, score.AnswerTokens);
        double expected = -Math.Log(Math.Exp(5) / (Math.Exp(5) + 2)); // the same for both answer positions
        Assert.Equal(expected, score.Loss, 5);
        // one wrong answer token is no exact match, and raises the loss
        logits[3] = tensor(new float[] { 0, 5, 0 });
        var wrong = AnswerScore.FromLogits(logits, new long[] { 1, 2, 2, 0 }, answerFrom: 2);
        Assert.False(wrong.Correct);
        Assert.True(wrong.Loss > score.Loss);
        Assert.Throws<ArgumentOutOfRangeException>(() => AnswerScore.FromLogits(logits, new long[] { 1, 2, 2, 0 }, answerFrom: 4));
    }

    [Fact]
    public void AnExampleIsScoredOnTheTokensTheAnswerAddsToThePrompt()
    {
        var tok = TextTokenizer.Train(TokenizerTestData.Corpus(seed: 3, documents: 10, sentencesPerDocument: 10), vocabSize: 300);
        manual_seed(5);
        using var model = new TransformerLM(
            new ModelConfig
            {
                DModel = 32,
                NLayers = 2,
                NHeads = 2,
                MaxSeqLen = 128,
                VocabSize = tok.VocabSize,
            }
        );
        model.eval();
        var example = new KeyValueRetrievalTask(3).Example(1, 0);
        var score = AnswerScore.Of(model, tok, example);
        var prompt = tok.Encode(example.Prompt);
        var all = tok.Encode(example.Text.TrimEnd('\n'));
        Assert.Equal(all.Length - prompt.Length, score.AnswerTokens);
        using var _ = no_grad();
        var logits = model.forward(tensor(all[..^1].Select(t => (long)t).ToArray()).unsqueeze(0)).squeeze(0);
        var manual = AnswerScore.FromLogits(logits, all[1..].Select(t => (long)t).ToArray(), prompt.Length - 1);
        Assert.Equal(manual, score);
        Assert.InRange(score.Loss, 0.5 * Math.Log(tok.VocabSize), 2 * Math.Log(tok.VocabSize)); // an untrained model: about ln V
    }
}
