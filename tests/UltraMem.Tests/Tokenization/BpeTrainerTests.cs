using UltraMem.Tokenization;
using static UltraMem.Tests.Tokenization.TokenizerTestData;

namespace UltraMem.Tests.Tokenization;

public class BpeTrainerTests
{
    static readonly List<string> Corpus = Corpus(seed: 1, documents: 60, sentencesPerDocument: 40);

    [Fact]
    public void ByteAlphabetIsGpt2s()
    {
        for (int b = 0; b < 256; b++)
        {
            Assert.Equal(Gpt2ByteToChar[b], ByteLevelAlphabet.ToChar((byte)b));
            Assert.True(ByteLevelAlphabet.TryToByte(Gpt2ByteToChar[b], out byte back));
            Assert.Equal(b, back);
        }
        Assert.Equal('\u0120', ByteLevelAlphabet.ToChar((byte)' '));
        Assert.Equal('\u010A', ByteLevelAlphabet.ToChar((byte)'\n'));
        Assert.Equal('\u0100', ByteLevelAlphabet.ToChar(0));
        Assert.Equal('\u0143', ByteLevelAlphabet.ToChar(0xAD));
        Assert.Equal('a', ByteLevelAlphabet.ToChar((byte)'a'));
        Assert.False(ByteLevelAlphabet.TryToByte(' ', out _));
    }

    [Fact]
    public void TrainerSegmentationIsWhatApplyingTheMergesByRankGives()
    {
        var (model, segmentation) = new BpeTrainer(vocabSize: 700).TrainWithSegmentation(Corpus);
        var tokenizer = new TextTokenizer(model);
        Assert.Equal(700, model.Tokens.Count);
        Assert.True(segmentation.Count > 200);
        foreach (var (piece, trained) in segmentation)
        {
            Assert.Equal(trained, ReferenceEncode(model, piece));
            Assert.Equal(trained, tokenizer.Encode(piece));
        }
    }

    [Fact]
    public void HeldOutTextEncodesLikeTheReferenceEncoder()
    {
        var tokenizer = TextTokenizer.Train(Corpus, vocabSize: 700);
        foreach (string document in Corpus(seed: 99, documents: 10, sentencesPerDocument: 30))
        {
            Assert.Equal(ReferenceEncode(tokenizer.Model, document), tokenizer.Encode(document));
        }
        int[] ids = tokenizer.Encode(" the international government");
        Assert.True(ids.Length <= 4, $"common words should be merged: {ids.Length} tokens");
    }

    [Fact]
    public void VocabularyLayoutAndSizeAreAsSpecified()
    {
        BpeModel model = new BpeTrainer(vocabSize: 400).Train(Corpus);
        Assert.Equal(400, model.Tokens.Count);
        Assert.Equal(399, model.EndOfTextId);
        Assert.Equal(BpeModel.EndOfText, model.Tokens[399]);
        Assert.Equal(400 - 257, model.Merges.Count);
        for (int b = 0; b < 256; b++)
            Assert.Equal(Gpt2ByteToChar[b].ToString(), model.Tokens[b]);
        var known = new HashSet<string>(model.Tokens.Take(256));
        for (int rank = 0; rank < model.Merges.Count; rank++)
        {
            BpeMerge merge = model.Merges[rank];
            Assert.Contains(merge.Left, known);
            Assert.Contains(merge.Right, known);
            Assert.Equal(merge.Left + merge.Right, model.Tokens[256 + rank]);
            Assert.True(known.Add(model.Tokens[256 + rank]), "each merge makes a new token");
        }
        Assert.Equal(model.Tokens.Count, model.Tokens.Distinct().Count());
    }

    [Fact]
    public void IncrementalCountsGiveTheSameMergesAsRecountingEveryStep()
    {
        List<string> small = Corpus(seed: 5, documents: 12, sentencesPerDocument: 25);
        small.Add("aaaaaaa bbbb abababab"); // overlapping runs
        BpeModel model = new BpeTrainer(vocabSize: 257 + 150, minFrequency: 1).Train(small);
        Assert.Equal(RecountingTrainer(small, merges: 150), model.Merges);
    }

    /// <summary>Slow oracle: recounts every pair of every piece before each merge.</summary>
    static List<BpeMerge> RecountingTrainer(List<string> documents, int merges)
    {
        var pieces = new Dictionary<string, long>();
        foreach (string document in documents)
        {
            foreach (
                System.Text.RegularExpressions.Match m in new System.Text.RegularExpressions.Regex(Gpt2PreTokenizer.Pattern).Matches(
                    document
                )
            )
                pieces[m.Value] = pieces.GetValueOrDefault(m.Value) + 1;
        }
        var tokens = Enumerable.Range(0, 256).Select(b => Gpt2ByteToChar[b].ToString()).ToList();
        var words = pieces
            .Select(p => (Symbols: System.Text.Encoding.UTF8.GetBytes(p.Key).Select(b => (int)b).ToList(), Count: p.Value))
            .ToList();
        var result = new List<BpeMerge>();
        var excluded = new HashSet<(int, int)>();
        while (result.Count < merges)
        {
            var counts = new Dictionary<(int, int), long>();
            foreach (var (symbols, count) in words)
            {
                for (int i = 0; i + 1 < symbols.Count; i++)
                    counts[(symbols[i], symbols[i + 1])] = counts.GetValueOrDefault((symbols[i], symbols[i + 1])) + count;
            }
            var best = counts
                .Where(c => !excluded.Contains(c.Key))
                .OrderByDescending(c => c.Value)
                .ThenBy(c => c.Key.Item1)
                .ThenBy(c => c.Key.Item2)
                .First()
                .Key;
            string merged = tokens[best.Item1] + tokens[best.Item2];
            if (tokens.Contains(merged))
            {
                excluded.Add(best);
                continue;
            }
            int id = tokens.Count;
            tokens.Add(merged);
            result.Add(new BpeMerge(tokens[best.Item1], tokens[best.Item2]));
            foreach (var (symbols, _) in words)
            {
                for (int i = 0; i + 1 < symbols.Count; i++)
                {
                    if (symbols[i] == best.Item1 && symbols[i + 1] == best.Item2)
                    {
                        symbols[i] = id;
                        symbols.RemoveAt(i + 1);
                    }
                }
            }
        }
        return result;
    }

    [Fact]
    public void SameCorpusInAnyOrderGivesIdenticalModels()
    {
        var shuffled = Corpus.OrderBy(d => d.GetHashCode(StringComparison.Ordinal)).ToList();
        BpeModel a = new BpeTrainer(vocabSize: 600).Train(Corpus);
        BpeModel b = new BpeTrainer(vocabSize: 600).Train(shuffled);
        Assert.Equal(a.Tokens, b.Tokens);
        Assert.Equal(a.Merges, b.Merges);
        Assert.Equal(BpeModelFiles.FormatVocab(a), BpeModelFiles.FormatVocab(b));
        Assert.Equal(BpeModelFiles.FormatMerges(a), BpeModelFiles.FormatMerges(b));
    }

    [Fact]
    public void TiesGoToTheSmallestPairOfIds()
    {
        // Both pairs occur once; 'p' (0x70) < 'x' (0x78).
        BpeModel model = new BpeTrainer(vocabSize: 259, minFrequency: 1).Train(["xy", "pq"]);
        Assert.Equal([new BpeMerge("p", "q"), new BpeMerge("x", "y")], model.Merges);
    }

    [Fact]
    public void StopsWhenNoPairReachesMinFrequency()
    {
        // Pieces "hello" and " hello": the four merges building "hello" occur twice, "Ġ hello" once.
        var (model, segmentation) = new BpeTrainer(vocabSize: 1000).TrainWithSegmentation(["hello hello"]);
        Assert.Equal(256 + 4 + 1, model.Tokens.Count);
        Assert.Equal("hello", model.Merges[^1].Result);
        int hello = model.Tokens.ToList().IndexOf("hello");
        Assert.Equal([hello], segmentation["hello"]);
        Assert.Equal([model.Tokens.ToList().IndexOf("Ġ"), hello], segmentation[" hello"]);
    }

    [Fact]
    public void OverlappingRunsCountAndMergeLeftToRight()
    {
        // "aaaaa": (a,a) counts 4; merging left to right gives aa aa a. Then (aa,aa) and (aa,a) tie
        // at 1 and (aa, a) wins on the smaller right id (97 < 256): aa aaa, then aaaaa.
        var (model, segmentation) = new BpeTrainer(vocabSize: 260, minFrequency: 1).TrainWithSegmentation(["aaaaa"]);
        Assert.Equal([new BpeMerge("a", "a"), new BpeMerge("aa", "a"), new BpeMerge("aa", "aaa")], model.Merges);
        Assert.Equal(ReferenceEncode(model, "aaaaa"), segmentation["aaaaa"]);
        Assert.Single(segmentation["aaaaa"]);
    }

    [Fact]
    public void LiteralEndOfTextInTheCorpusNeverBecomesTheSpecialToken()
    {
        var documents = Enumerable.Repeat("<|endoftext|> hello <|endoftext|><|endoftext|>", 50).ToList();
        var tokenizer = new TextTokenizer(new BpeTrainer(vocabSize: 400).Train(documents));
        Assert.Equal(1, tokenizer.Model.Tokens.Count(t => t == BpeModel.EndOfText));
        int[] ids = tokenizer.Encode(documents[0]);
        Assert.DoesNotContain(tokenizer.EndOfTextId, ids);
        Assert.Equal(documents[0], tokenizer.Decode(ids));
    }

    [Fact]
    public void ProgressRisesToOne()
    {
        var seen = new List<double>();
        new BpeTrainer(vocabSize: 500).Train(Corpus, new SynchronousProgress(seen.Add));
        Assert.Equal(0, seen[0]);
        Assert.Equal(1, seen[^1]);
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.First <= p.Second));
        Assert.True(seen.Count > 10);
    }

    [Fact]
    public void RejectsBadArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new BpeTrainer(vocabSize: 256));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BpeTrainer(minFrequency: 0));
        Assert.Throws<ArgumentException>(() => new BpeTrainer().Train(["fine", null!, "fine"]));
    }

    sealed class SynchronousProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}
