namespace UltraMem.Tokenization;

/// <summary>
/// Trains a GPT-2 style byte-level BPE vocabulary: documents are split with
/// <see cref="Gpt2PreTokenizer"/>, each piece becomes a sequence of its UTF-8 bytes, and the most
/// frequent adjacent pair is merged repeatedly (ties: smallest left id, then smallest right id;
/// byte symbols have id = byte value, merged tokens ids in merge order), so the same corpus always
/// gives the same model. The vocabulary holds the 256 byte symbols, the merged tokens and
/// <see cref="BpeModel.EndOfText"/> (last id).
/// </summary>
public sealed class BpeTrainer
{
    public const int DefaultVocabSize = 8192;

    /// <summary>256 byte symbols plus <see cref="BpeModel.EndOfText"/>.</summary>
    public const int MinimumVocabSize = 257;

    /// <summary>Target vocabulary size, special token included.</summary>
    public int VocabSize { get; }

    /// <summary>Training stops early when the best pair occurs fewer times than this.</summary>
    public long MinFrequency { get; }

    public BpeTrainer(int vocabSize = DefaultVocabSize, long minFrequency = 2)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, MinimumVocabSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(minFrequency, 1);
        VocabSize = vocabSize;
        MinFrequency = minFrequency;
    }

    /// <summary>Trains on <paramref name="documents"/>; <paramref name="progress"/> gets fractions 0..1.</summary>
    public BpeModel Train(IEnumerable<string> documents, IProgress<double>? progress = null) => Core(documents, progress).Model;

    /// <summary>Trains and also returns the final segmentation (token ids) of every distinct training piece.</summary>
    internal (BpeModel Model, Dictionary<string, int[]> Segmentation) TrainWithSegmentation(IEnumerable<string> documents)
    {
        var (model, loop, pieces) = Core(documents, null);
        var segmentation = new Dictionary<string, int[]>(pieces.Length, StringComparer.Ordinal);
        for (int w = 0; w < pieces.Length; w++)
            segmentation[pieces[w]] = loop.Segmentation(w);
        return (model, segmentation);
    }

    (BpeModel Model, PairMergeLoop Loop, string[] Pieces) Core(IEnumerable<string> documents, IProgress<double>? progress)
    {
        progress?.Report(0);
        Dictionary<string, long> counts = PreTokenCounter.Count(documents);
        string[] pieces = counts.Keys.ToArray();
        Array.Sort(pieces, StringComparer.Ordinal);
        long[] frequencies = Array.ConvertAll(pieces, p => counts[p]);

        var loop = new PairMergeLoop(pieces, frequencies, [BpeModel.EndOfText]);
        int mergesWanted = VocabSize - MinimumVocabSize;
        int reported = 0;
        for (int done = 0; done < mergesWanted && loop.TryMergeNext(MinFrequency); done++)
        {
            int percent = (int)(100L * (done + 1) / mergesWanted);
            if (progress is not null && percent > reported)
            {
                reported = percent;
                progress.Report(percent / 100.0);
            }
        }
        if (progress is not null && reported < 100)
            progress.Report(1);
        return (new BpeModel(loop.Tokens.Append(BpeModel.EndOfText), loop.Merges), loop, pieces);
    }
}
