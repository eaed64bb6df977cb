using System.Security.Cryptography;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace UltraMem.Tokenization;

/// <summary>
/// Byte-level BPE tokenizer: text ↔ token ids. Encoding runs through Microsoft.ML.Tokenizers'
/// <see cref="BpeTokenizer"/> (byte-level, GPT-2 pre-tokenisation, no special-token parsing, so the
/// literal text "&lt;|endoftext|&gt;" encodes as ordinary tokens); decoding maps ids back to bytes here.
/// Encode and Decode are safe to call from several threads at once: the only mutable state is
/// BpeTokenizer's word cache, which it guards with a lock.
/// </summary>
public sealed class TextTokenizer
{
    readonly BpeTokenizer _bpe;
    readonly byte[][] _tokenBytes;

    /// <summary>The vocabulary and merges.</summary>
    public BpeModel Model { get; }

    /// <summary>Number of token ids (0..VocabSize-1).</summary>
    public int VocabSize => Model.Tokens.Count;

    /// <summary>Id of the document separator <see cref="BpeModel.EndOfText"/>.</summary>
    public int EndOfTextId => Model.EndOfTextId;

    /// <summary>
    /// Lower-case hex SHA-256 of the canonical vocab.json followed by the canonical merges.txt:
    /// equal for tokenizers that encode alike, whatever the formatting of the files they came from.
    /// </summary>
    public string Fingerprint { get; }

    public TextTokenizer(BpeModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        _tokenBytes = new byte[model.Tokens.Count][];
        for (int id = 0; id < _tokenBytes.Length; id++)
        {
            string token = model.Tokens[id];
            _tokenBytes[id] = id == model.EndOfTextId ? Encoding.UTF8.GetBytes(token) : ByteLevelAlphabet.Decode(token)!;
        }
        _bpe = BpeTokenizer.Create(
            new BpeOptions(model.Tokens.Select((token, id) => new KeyValuePair<string, int>(token, id)))
            {
                Merges = model.Merges.Select(m => m.ToString()),
                ByteLevel = true,
                PreTokenizer = new RegexPreTokenizer(Gpt2PreTokenizer.Regex, null),
            }
        );
        byte[] vocab = Encoding.UTF8.GetBytes(BpeModelFiles.FormatVocab(model));
        byte[] merges = Encoding.UTF8.GetBytes(BpeModelFiles.FormatMerges(model));
        Fingerprint = Convert.ToHexStringLower(SHA256.HashData([.. vocab, .. merges]));
    }

    /// <summary>Trains a tokenizer with <paramref name="vocabSize"/> ids (see <see cref="BpeTrainer"/>).</summary>
    public static TextTokenizer Train(
        IEnumerable<string> documents,
        int vocabSize = BpeTrainer.DefaultVocabSize,
        IProgress<double>? progress = null
    ) => new(new BpeTrainer(vocabSize).Train(documents, progress));

    /// <summary>Loads vocab.json and merges.txt from <paramref name="directory"/>; problems throw <see
    /// cref="UltraMemException"/>.</summary>
    public static TextTokenizer Load(string directory) => new(BpeModelFiles.Read(directory));

    /// <summary>Writes vocab.json and merges.txt into <paramref name="directory"/>, each atomically.</summary>
    public void Save(string directory) => BpeModelFiles.Write(Model, directory);

    /// <summary>
    /// Token ids of <paramref name="text"/>. Unpaired UTF-16 surrogates are encoded as U+FFFD, as
    /// UTF-8 encoding does, so <c>Decode(Encode(s)) == s</c> for every well-formed string.
    /// </summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0)
            return [];
        IReadOnlyList<int> ids = _bpe.EncodeToIds(ReplaceLoneSurrogates(text), considerPreTokenization: true, considerNormalization: false);
        var result = new int[ids.Count];
        for (int i = 0; i < result.Length; i++)
            result[i] = ids[i];
        return result;
    }

    /// <summary>
    /// Text of <paramref name="ids"/>. Bytes that do not form valid UTF-8 (such as a sequence cut
    /// inside a character) become U+FFFD. An id outside 0..VocabSize-1 throws <see cref="UltraMemException"/>.
    /// </summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        int length = 0;
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_tokenBytes.Length)
                throw new UltraMemException($"Token id {id} is outside the tokenizer's vocabulary (0..{_tokenBytes.Length - 1}).");
            length += _tokenBytes[id].Length;
        }
        var bytes = new byte[length];
        int at = 0;
        foreach (int id in ids)
        {
            _tokenBytes[id].CopyTo(bytes, at);
            at += _tokenBytes[id].Length;
        }
        return Encoding.UTF8.GetString(bytes);
    }

    static string ReplaceLoneSurrogates(string text)
    {
        int bad = FindLoneSurrogate(text, 0);
        if (bad < 0)
            return text;
        char[] chars = text.ToCharArray();
        for (; bad >= 0; bad = FindLoneSurrogate(text, bad + 1))
            chars[bad] = '\uFFFD';
        return new string(chars);
    }

    static int FindLoneSurrogate(string text, int start)
    {
        for (int i = start; i < text.Length; i++)
        {
            char c = text[i];
            if (!char.IsSurrogate(c))
                continue;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }
            return i;
        }
        return -1;
    }
}
