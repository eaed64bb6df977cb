using System.Text.RegularExpressions;

namespace UltraMem.Tokenization;

/// <summary>
/// GPT-2's pre-tokenisation regex: splits text into contractions, letter runs, digit runs,
/// punctuation runs (each with at most one leading space) and whitespace. Merges never cross
/// the pieces it produces. The same compiled instance serves training and encoding.
/// </summary>
public static class Gpt2PreTokenizer
{
    /// <summary>The pattern, as in GPT-2's encoder.py.</summary>
    public const string Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>Compiled, culture-invariant and thread-safe.</summary>
    public static Regex Regex { get; } = new(Pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
}
