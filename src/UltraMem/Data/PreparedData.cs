using UltraMem.Tokenization;
using static TorchSharp.torch;

namespace UltraMem.Data;

/// <summary>
/// A corpus made ready for training: documents split train/validation, a tokenizer (trained on the training
/// split unless one is given), and both splits tokenised into memory-mapped token files.
/// Everything is cached under <c>cacheDir/datasets/NAME-HASH-valFRACTION/</c>, keyed by the documents' content hash
/// (<see cref="TokenCache.SourceHash"/>), the split and the tokenizer fingerprint, so a second run starts in seconds.
/// </summary>
public sealed class PreparedData : IDisposable
{
    public required TextTokenizer Tokenizer { get; init; }
    public required TokenStream Train { get; init; }
    public required TokenStream Validation { get; init; }
    public required int TrainDocuments { get; init; }
    public required int ValidationDocuments { get; init; }

    /// <summary>Entropy (nats/token) of the training split's unigram distribution: the loss of a model that ignores context.</summary>
    public required double UnigramEntropy { get; init; }
    public required string CacheFolder { get; init; }

    public static PreparedData Prepare(
        string corpus,
        int vocabSize,
        double validationFraction,
        string cacheDir,
        TextTokenizer? tokenizer,
        Action<string> log
    )
    {
        var docs = Corpus.Load(corpus, cacheDir, new Progress<string>(log));
        var (train, val) = DocumentSplit.Split(docs, validationFraction);
        string safeName = new string(
            Path.GetFileNameWithoutExtension(corpus.TrimEnd('/', '\\')).Select(c => char.IsLetterOrDigit(c) || c == '-' ? c : '_').ToArray()
        );
        string folder = Path.Combine(
            cacheDir,
            "datasets",
            $"{safeName}-{TokenCache.SourceHash(docs)[..12]}-val{validationFraction.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}"
        );
        Directory.CreateDirectory(folder);

        if (tokenizer is null)
        {
            string tokDir = Path.Combine(folder, $"tokenizer-{vocabSize}");
            if (File.Exists(Path.Combine(tokDir, "vocab.json")) && File.Exists(Path.Combine(tokDir, "merges.txt")))
                tokenizer = TextTokenizer.Load(tokDir);
            else
            {
                log($"training a {vocabSize}-token byte-level BPE on {train.Count} documents...");
                var sw = System.Diagnostics.Stopwatch.StartNew();
                tokenizer = TextTokenizer.Train(train.Select(d => d.Text), vocabSize);
                Directory.CreateDirectory(tokDir);
                tokenizer.Save(tokDir);
                log($"tokenizer trained in {sw.Elapsed.TotalSeconds:F1} s ({tokenizer.VocabSize} tokens)");
            }
        }

        string tokFolder = Path.Combine(folder, $"tokens-{tokenizer.Fingerprint[..12]}");
        Directory.CreateDirectory(tokFolder);
        TokenStream Open(string name, IReadOnlyList<Document> split)
        {
            string path = Path.Combine(tokFolder, name + ".bin");
            if (!TokenCache.IsValid(path, tokenizer.Fingerprint))
            {
                log($"tokenising the {name} split ({split.Count} documents)...");
                TokenCache.Build(path, split, tokenizer.Encode, tokenizer.EndOfTextId, tokenizer.VocabSize, tokenizer.Fingerprint, null);
            }
            return TokenStream.Open(path, tokenizer.Fingerprint);
        }
        var trainStream = Open("train", train);
        var valStream = Open("val", val);
        return new PreparedData
        {
            Tokenizer = tokenizer,
            Train = trainStream,
            Validation = valStream,
            TrainDocuments = train.Count,
            ValidationDocuments = val.Count,
            UnigramEntropy = UnigramEntropyOf(trainStream, tokenizer.VocabSize),
            CacheFolder = folder,
        };
    }

    public string Describe() =>
        $"data: {Train.Count:N0} train tokens ({TrainDocuments} docs), {Validation.Count:N0} validation tokens ({ValidationDocuments} docs), unigram entropy {UnigramEntropy:F3} nats";

    /// <summary>A training batch (inputs, next-token targets), each [B, T] int64, a pure function of (seed, step, micro).</summary>
    public (Tensor Inputs, Tensor Targets) TrainBatch(int batchSize, int seqLen, ulong seed, long step, int micro)
    {
        var (x, y) = BatchSampler.Sample(Train, batchSize, seqLen, seed, step, micro);
        return (tensor(x, int64, device: CPU).view(batchSize, seqLen), tensor(y, int64, device: CPU).view(batchSize, seqLen));
    }

    /// <summary>Consecutive non-overlapping validation windows, in order.</summary>
    public IEnumerable<(Tensor Inputs, Tensor Targets)> ValidationBatches(int batchSize, int seqLen, int? maxBatches)
    {
        int n = 0;
        foreach (var (x, y) in BatchSampler.Sequential(Validation, batchSize, seqLen))
        {
            if (maxBatches is { } m && n++ >= m)
                yield break;
            long rows = x.Length / seqLen;
            yield return (tensor(x, int64, device: CPU).view(rows, seqLen), tensor(y, int64, device: CPU).view(rows, seqLen));
        }
    }

    static double UnigramEntropyOf(TokenStream s, int vocab)
    {
        var counts = new long[vocab];
        for (long i = 0; i < s.Count; i++)
            counts[s[i]]++;
        double h = 0,
            n = s.Count;
        foreach (long c in counts)
            if (c > 0)
                h -= c / n * Math.Log(c / n);
        return h;
    }

    public void Dispose()
    {
        Train.Dispose();
        Validation.Dispose();
    }
}
