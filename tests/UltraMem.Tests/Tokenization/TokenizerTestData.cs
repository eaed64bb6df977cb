using System.Text;
using System.Text.RegularExpressions;
using UltraMem.Tokenization;

namespace UltraMem.Tests.Tokenization;

/// <summary>Seeded corpora, random Unicode strings and an independent, slow reference BPE encoder.</summary>
internal static class TokenizerTestData
{
    static readonly string[] Words =
    [
        "the",
        "of",
        "and",
        "to",
        "in",
        "a",
        "is",
        "that",
        "for",
        "it",
        "as",
        "was",
        "with",
        "be",
        "by",
        "on",
        "not",
        "he",
        "this",
        "are",
        "or",
        "his",
        "from",
        "at",
        "which",
        "but",
        "have",
        "an",
        "had",
        "they",
        "you",
        "were",
        "their",
        "one",
        "all",
        "we",
        "can",
        "her",
        "has",
        "there",
        "been",
        "if",
        "more",
        "when",
        "will",
        "would",
        "who",
        "so",
        "no",
        "she",
        "other",
        "its",
        "may",
        "these",
        "them",
        "than",
        "some",
        "him",
        "time",
        "into",
        "only",
        "do",
        "could",
        "new",
        "about",
        "two",
        "first",
        "then",
        "also",
        "after",
        "any",
        "like",
        "our",
        "people",
        "years",
        "work",
        "state",
        "government",
        "country",
        "nation",
        "congress",
        "president",
        "world",
        "memory",
        "sparse",
        "table",
        "value",
        "model",
        "training",
        "token",
        "language",
        "layer",
        "network",
        "interesting",
        "international",
        "information",
        "development",
        "understanding",
        "responsibility",
        "happiness",
        "running",
        "jumped",
        "quickly",
        "beautiful",
        "Washington",
        "America",
        "January",
        "Senate",
        "café",
        "naïve",
        "Zürich",
        "façade",
        "Ærøskøbing",
        "東京",
        "日本語",
        "Москва",
        "Ελλάδα",
        "😀",
        "🚀",
    ];

    static readonly string[] Joiners = [" ", " ", " ", " ", ", ", "; ", " - ", " — ", "  ", "\t"];
    static readonly string[] Ends = [". ", "! ", "? ", ".\n", ".\n\n", "...\n", ": "];
    static readonly string[] Contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];

    /// <summary><paramref name="documents"/> documents of English-like text.</summary>
    public static List<string> Corpus(int seed, int documents, int sentencesPerDocument)
    {
        var random = new Random(seed);
        var result = new List<string>(documents);
        for (int d = 0; d < documents; d++)
        {
            var sb = new StringBuilder();
            for (int s = 0; s < sentencesPerDocument; s++)
                AppendSentence(sb, random);
            result.Add(sb.ToString());
        }
        return result;
    }

    static void AppendSentence(StringBuilder sb, Random random)
    {
        int length = random.Next(4, 18);
        for (int i = 0; i < length; i++)
        {
            if (i > 0)
                sb.Append(Joiners[random.Next(Joiners.Length)]);
            // Zipf-like choice: small indices (common words) much more often.
            int index = (int)(Words.Length * Math.Pow(random.NextDouble(), 2.5));
            string word = Words[index];
            if (i == 0 || random.Next(20) == 0)
                word = char.ToUpperInvariant(word[0]) + word[1..];
            sb.Append(word);
            int extra = random.Next(40);
            if (extra == 0)
                sb.Append(Contractions[random.Next(Contractions.Length)]);
            else if (extra == 1)
                sb.Append(' ').Append(random.Next(0, 3000));
            else if (extra == 2)
                sb.Append(" (").Append(Words[random.Next(Words.Length)]).Append(')');
            else if (extra == 3)
                sb.Append(" \"").Append(Words[random.Next(Words.Length)]).Append('"');
        }
        sb.Append(Ends[random.Next(Ends.Length)]);
    }

    static readonly string[] Specials =
    [
        BpeModel.EndOfText,
        "<|",
        "|>",
        "'s",
        "'ll",
        "'RE",
        " ",
        "  ",
        "   ",
        "\t",
        "\n",
        "\r\n",
        "\n\n\n",
        " \n ",
        "\u00A0",
        "\u2003",
        "\u3000",
        "\u0085",
        "\u200B",
        "\uFEFF",
        "\uFFFD",
        "e\u0301",
        "a\u0308\u0323",
    ];

    static readonly (int Low, int High)[] Ranges =
    [
        (0x20, 0x7E), // printable ASCII
        (0x20, 0x7E),
        (0x00, 0x1F), // control characters
        (0x7F, 0x9F), // DEL and C1 controls
        (0xA0, 0xFF), // Latin-1
        (0x100, 0x24F), // Latin Extended
        (0x300, 0x36F), // combining marks
        (0x370, 0x3FF), // Greek
        (0x400, 0x4FF), // Cyrillic
        (0x600, 0x6FF), // Arabic (incl. Arabic-Indic digits)
        (0x900, 0x97F), // Devanagari
        (0x3040, 0x30FF), // kana
        (0x4E00, 0x9FFF), // CJK
        (0xAC00, 0xD7A3), // Hangul
        (0xE000, 0xF8FF), // private use
        (0xFF00, 0xFFEF), // full-width forms
        (0x1F300, 0x1F6FF), // emoji (surrogate pairs)
        (0x1F900, 0x1F9FF),
        (0x1D400, 0x1D7FF), // mathematical letters and digits (astral \p{L} / \p{N})
        (0x20000, 0x2A6DF), // CJK extension B
        (0x10000, 0x10FFFF), // anything astral
    ];

    /// <summary>A well-formed (no lone surrogates) random string mixing many scripts, spaces and controls.</summary>
    public static string RandomUnicode(Random random)
    {
        var sb = new StringBuilder();
        int pieces = random.Next(1, 30);
        for (int p = 0; p < pieces; p++)
        {
            if (random.Next(5) == 0)
            {
                sb.Append(Specials[random.Next(Specials.Length)]);
                continue;
            }
            var (low, high) = Ranges[random.Next(Ranges.Length)];
            int run = random.Next(1, 8);
            for (int i = 0; i < run; i++)
            {
                int codePoint = random.Next(low, high + 1);
                if (codePoint is >= 0xD800 and <= 0xDFFF)
                    codePoint = 'x';
                sb.Append(char.ConvertFromUtf32(codePoint));
            }
        }
        return sb.ToString();
    }

    /// <summary>GPT-2's bytes_to_unicode, written out independently of the product code.</summary>
    public static readonly char[] Gpt2ByteToChar = BuildGpt2Table();

    static char[] BuildGpt2Table()
    {
        var bs = new List<int>();
        for (int b = '!'; b <= '~'; b++)
            bs.Add(b);
        for (int b = 0xA1; b <= 0xAC; b++)
            bs.Add(b);
        for (int b = 0xAE; b <= 0xFF; b++)
            bs.Add(b);
        var cs = new List<int>(bs);
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            if (!bs.Contains(b))
            {
                bs.Add(b);
                cs.Add(256 + n);
                n++;
            }
        }
        var table = new char[256];
        for (int i = 0; i < bs.Count; i++)
            table[bs[i]] = (char)cs[i];
        return table;
    }

    /// <summary>
    /// GPT-2's encoder.py algorithm, slowly: split with a fresh (interpreted) regex, map UTF-8 bytes
    /// to the byte alphabet, then repeatedly merge every occurrence (left to right) of the adjacent
    /// pair with the lowest merge rank.
    /// </summary>
    public static List<int> ReferenceEncode(BpeModel model, string text)
    {
        var ranks = new Dictionary<(string, string), int>();
        for (int r = 0; r < model.Merges.Count; r++)
            ranks[(model.Merges[r].Left, model.Merges[r].Right)] = r;
        var ids = new Dictionary<string, int>();
        for (int id = 0; id < model.Tokens.Count; id++)
            ids[model.Tokens[id]] = id;

        var result = new List<int>();
        foreach (Match match in new Regex(Gpt2PreTokenizer.Pattern).Matches(text))
        {
            foreach (string symbol in ReferenceMergePiece(ranks, match.Value))
                result.Add(ids[symbol]);
        }
        return result;
    }

    static List<string> ReferenceMergePiece(Dictionary<(string, string), int> ranks, string piece)
    {
        var symbols = Encoding.UTF8.GetBytes(piece).Select(b => Gpt2ByteToChar[b].ToString()).ToList();
        while (symbols.Count > 1)
        {
            int bestRank = int.MaxValue;
            (string, string) best = default;
            for (int i = 0; i + 1 < symbols.Count; i++)
            {
                if (ranks.TryGetValue((symbols[i], symbols[i + 1]), out int rank) && rank < bestRank)
                {
                    bestRank = rank;
                    best = (symbols[i], symbols[i + 1]);
                }
            }
            if (bestRank == int.MaxValue)
                break;
            var next = new List<string>(symbols.Count);
            for (int i = 0; i < symbols.Count; i++)
            {
                if (i + 1 < symbols.Count && (symbols[i], symbols[i + 1]) == best)
                {
                    next.Add(symbols[i] + symbols[i + 1]);
                    i++;
                }
                else
                    next.Add(symbols[i]);
            }
            symbols = next;
        }
        return symbols;
    }
}
