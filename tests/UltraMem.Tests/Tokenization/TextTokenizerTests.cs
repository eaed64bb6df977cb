using System.Text;
using Microsoft.ML.Tokenizers;
using UltraMem.Tokenization;
using static UltraMem.Tests.Tokenization.TokenizerTestData;

namespace UltraMem.Tests.Tokenization;

public sealed class TextTokenizerTests : IDisposable
{
    static readonly Lazy<TextTokenizer> Shared = new(() =>
        TextTokenizer.Train(Corpus(seed: 2, documents: 60, sentencesPerDocument: 40), vocabSize: 800)
    );
    readonly string _directory = Path.Combine(Path.GetTempPath(), "ultramem-tok-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
            Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void ArbitraryUnicodeRoundTripsAndEncodesLikeTheReference()
    {
        TextTokenizer tokenizer = Shared.Value;
        var random = new Random(12345);
        for (int i = 0; i < 400; i++)
        {
            string text = RandomUnicode(random);
            int[] ids = tokenizer.Encode(text);
            Assert.Equal(text, tokenizer.Decode(ids));
            Assert.DoesNotContain(tokenizer.EndOfTextId, ids);
            Assert.Equal(ReferenceEncode(tokenizer.Model, text), ids);
        }
    }

    [Fact]
    public void LiteralEndOfTextIsOrdinaryTextButTheIdDecodesToIt()
    {
        TextTokenizer tokenizer = Shared.Value;
        int[] ids = tokenizer.Encode("a<|endoftext|>b");
        Assert.DoesNotContain(tokenizer.EndOfTextId, ids);
        Assert.True(ids.Length > 3);
        Assert.Equal("a<|endoftext|>b", tokenizer.Decode(ids));
        Assert.Equal("x<|endoftext|>y", tokenizer.Decode([.. tokenizer.Encode("x"), tokenizer.EndOfTextId, .. tokenizer.Encode("y")]));
    }

    [Fact]
    public void LoneSurrogatesEncodeAsReplacementCharacters()
    {
        TextTokenizer tokenizer = Shared.Value;
        string text = "a\uD800b\uDC00c\uD83D";
        Assert.Equal("a\uFFFDb\uFFFDc\uFFFD", tokenizer.Decode(tokenizer.Encode(text)));
        Assert.Equal(tokenizer.Encode("a\uFFFDb\uFFFDc\uFFFD"), tokenizer.Encode(text));
    }

    [Fact]
    public void PartialUtf8DecodesWithReplacementCharacters()
    {
        var tokenizer = TextTokenizer.Train(["plain ascii text, plain ascii text"], vocabSize: 300);
        const string text = "€😀";
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        int[] ids = tokenizer.Encode(text); // never seen in training: one id per byte
        Assert.Equal(7, ids.Length);
        Assert.Equal(text, tokenizer.Decode(ids));
        for (int cut = 1; cut < ids.Length; cut++)
        {
            string head = tokenizer.Decode(ids.AsSpan(0, cut));
            string tail = tokenizer.Decode(ids.AsSpan(cut));
            Assert.Equal(Encoding.UTF8.GetString(utf8[..cut]), head);
            Assert.Equal(Encoding.UTF8.GetString(utf8[cut..]), tail);
            if (cut != 3)
                Assert.Contains('\uFFFD', head + tail);
        }
        Assert.Equal("", tokenizer.Decode([]));
    }

    [Fact]
    public void OutOfRangeIdsThrow()
    {
        TextTokenizer tokenizer = Shared.Value;
        var tooBig = Assert.Throws<UltraMemException>(() => tokenizer.Decode([1, tokenizer.VocabSize]));
        Assert.Contains(tokenizer.VocabSize.ToString(), tooBig.Message);
        Assert.Throws<UltraMemException>(() => tokenizer.Decode([-1]));
    }

    [Fact]
    public void EncodeFromManyThreadsGivesTheSequentialResult()
    {
        var tokenizer = new TextTokenizer(Shared.Value.Model); // fresh, empty word cache
        var random = new Random(7);
        List<string> texts =
        [
            .. Corpus(seed: 3, documents: 40, sentencesPerDocument: 10),
            .. Enumerable.Range(0, 100).Select(_ => RandomUnicode(random)),
        ];
        var parallel = new int[texts.Count][];
        Parallel.For(
            0,
            texts.Count * 4,
            new ParallelOptions { MaxDegreeOfParallelism = 8 },
            i => parallel[i % texts.Count] = tokenizer.Encode(texts[i % texts.Count])
        );
        for (int i = 0; i < texts.Count; i++)
            Assert.Equal(ReferenceEncode(tokenizer.Model, texts[i]), parallel[i]);
    }

    [Fact]
    public void SaveLoadRoundTripKeepsFingerprintAndEncodings()
    {
        TextTokenizer tokenizer = Shared.Value;
        tokenizer.Save(_directory);
        TextTokenizer loaded = TextTokenizer.Load(_directory);
        Assert.Equal(tokenizer.Fingerprint, loaded.Fingerprint);
        Assert.Matches("^[0-9a-f]{64}$", loaded.Fingerprint);
        Assert.Equal(tokenizer.VocabSize, loaded.VocabSize);
        Assert.Equal(tokenizer.EndOfTextId, loaded.EndOfTextId);
        var random = new Random(5);
        for (int i = 0; i < 50; i++)
        {
            string text = i % 2 == 0 ? RandomUnicode(random) : Corpus(seed: 100 + i, documents: 1, sentencesPerDocument: 3)[0];
            Assert.Equal(tokenizer.Encode(text), loaded.Encode(text));
        }

        string[] merges = File.ReadAllLines(Path.Combine(_directory, "merges.txt"));
        Assert.Equal("#version: 0.2", merges[0]);
        Assert.Equal(tokenizer.Model.Merges.Select(m => m.ToString()), merges.Skip(1));
        using var vocab = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(_directory, "vocab.json")));
        Assert.Equal(tokenizer.VocabSize, vocab.RootElement.EnumerateObject().Count());
        Assert.Equal(tokenizer.EndOfTextId, vocab.RootElement.GetProperty("<|endoftext|>").GetInt32());
        Assert.Equal(32, vocab.RootElement.GetProperty("Ġ").GetInt32());
    }

    [Fact]
    public void SavedFilesAreIdenticalForIdenticalTraining()
    {
        List<string> corpus = Corpus(seed: 4, documents: 30, sentencesPerDocument: 20);
        string first = Path.Combine(_directory, "first"),
            second = Path.Combine(_directory, "second");
        TextTokenizer.Train(corpus, vocabSize: 500).Save(first);
        TextTokenizer.Train(corpus, vocabSize: 500).Save(second);
        foreach (string file in new[] { "vocab.json", "merges.txt" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(first, file)), File.ReadAllBytes(Path.Combine(second, file)));
        Assert.Equal(TextTokenizer.Load(first).Fingerprint, TextTokenizer.Load(second).Fingerprint);
        Assert.NotEqual(TextTokenizer.Load(first).Fingerprint, Shared.Value.Fingerprint);
    }

    [Fact]
    public void FingerprintIgnoresFileFormattingButNotContent()
    {
        TextTokenizer tokenizer = Shared.Value;
        Directory.CreateDirectory(_directory);
        // GPT-2's own layout: one line, ids in another order, non-ASCII escaped, CRLF merges.
        var entries = tokenizer
            .Model.Tokens.Select((t, id) => (t, id))
            .Reverse()
            .Select(e => $"{System.Text.Json.JsonSerializer.Serialize(e.t)}: {e.id}");
        File.WriteAllText(Path.Combine(_directory, "vocab.json"), "{" + string.Join(", ", entries) + "}");
        File.WriteAllText(
            Path.Combine(_directory, "merges.txt"),
            "#version: 0.2\r\n" + string.Join("\r\n", tokenizer.Model.Merges) + "\r\n"
        );
        Assert.Contains("\\u0120", File.ReadAllText(Path.Combine(_directory, "vocab.json")));
        Assert.Equal(tokenizer.Fingerprint, TextTokenizer.Load(_directory).Fingerprint);

        File.WriteAllText(
            Path.Combine(_directory, "merges.txt"),
            "#version: 0.2\n" + string.Join("\n", tokenizer.Model.Merges.SkipLast(1)) + "\n"
        );
        Assert.NotEqual(tokenizer.Fingerprint, TextTokenizer.Load(_directory).Fingerprint);
    }

    [Fact]
    public void BpeTokenizerLoadingTheSavedFilesEncodesAndDecodesTheSame()
    {
        TextTokenizer tokenizer = Shared.Value;
        tokenizer.Save(_directory);
        BpeTokenizer fromFiles = BpeTokenizer.Create(
            new BpeOptions(Path.Combine(_directory, "vocab.json"), Path.Combine(_directory, "merges.txt"))
            {
                ByteLevel = true,
                PreTokenizer = new RegexPreTokenizer(new System.Text.RegularExpressions.Regex(Gpt2PreTokenizer.Pattern), null),
            }
        );
        var random = new Random(11);
        for (int i = 0; i < 100; i++)
        {
            string text = i % 2 == 0 ? RandomUnicode(random) : Corpus(seed: 200 + i, documents: 1, sentencesPerDocument: 3)[0];
            int[] ids = tokenizer.Encode(text);
            Assert.Equal(ids, fromFiles.EncodeToIds(text));
            Assert.Equal(text, fromFiles.Decode(ids));
        }
    }
}
