using System.Text.RegularExpressions;

namespace UltraMem.Data.Tasks;

/// <summary>Filler text for the needle task: sentences of the bundled Brown corpus (docs/tasks.md).</summary>
public static class FillerSentences
{
    /// <summary>Sentences of 6–16 words (two of them and a needle fit a 128-token context) from the Brown corpus's documents, in corpus order.</summary>
    public static IReadOnlyList<string> Brown() =>
        Corpus
            .Brown()
            .SelectMany(d => Regex.Split(Regex.Replace(d.Text, @"\s+", " "), @"(?<=[.!?])\s+(?=[A-Z])"))
            .Select(s => s.Trim())
            .Where(s => s.Split(' ').Length is >= 6 and <= 16 && !s.Contains('|'))
            .ToList();
}
