namespace UltraMem.Data.Tasks;

/// <summary>
/// Made-up words for task keys, entities and labels: consonant–vowel syllables, so that they are new to any corpus, pronounceable,
/// and split by a byte-level BPE into a few tokens. Word <c>i</c> is fixed (<see cref="Of"/>), so tasks can draw indices.
/// </summary>
public static class PseudoWords
{
    const string Consonants = "bdfgklmnprstvz",
        Vowels = "aeiou";

    /// <summary>The number of distinct words of <see cref="Of"/>: 70³ three-syllable words.</summary>
    public const int Count = 70 * 70 * 70;

    /// <summary>Word <paramref name="index"/> (0 ≤ index &lt; <see cref="Count"/>): three syllables, e.g. "bazoku".</summary>
    public static string Of(int index)
    {
        if (index < 0 || index >= Count)
            throw new ArgumentOutOfRangeException(nameof(index), $"a pseudo-word index is in [0, {Count}) (got {index})");
        var chars = new char[6];
        for (int s = 0; s < 3; s++)
        {
            int syllable = index % 70;
            index /= 70;
            chars[2 * s] = Consonants[syllable / Vowels.Length];
            chars[2 * s + 1] = Vowels[syllable % Vowels.Length];
        }
        return new string(chars);
    }
}
