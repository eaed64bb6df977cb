using static TorchSharp.torch;

namespace UltraMem.Tests;

/// <summary>Small real-English corpora and temporary folders for tests.</summary>
static class TestData
{
    public const string Paragraph =
        "The committee met on Tuesday to discuss the new budget. Members agreed that the city should spend more on schools, " +
        "roads and parks, but they could not agree on how to pay for it. Some wanted higher taxes; others wanted cuts elsewhere. " +
        "After three hours the chairman said the vote would wait until next week, when the full report would be ready.";

    /// <summary>A folder of <paramref name="docs"/> text files, each a shuffled arrangement of the paragraph's sentences.</summary>
    public static string CorpusFolder(string root, int docs = 24)
    {
        string dir = Path.Combine(root, "corpus");
        Directory.CreateDirectory(dir);
        var sentences = Paragraph.Split(". ").Select(s => s.TrimEnd('.') + ".").ToArray();
        var rng = new Random(11);
        for (int i = 0; i < docs; i++)
        {
            var lines = Enumerable.Range(0, 12).Select(_ => sentences[rng.Next(sentences.Length)]);
            File.WriteAllText(Path.Combine(dir, $"doc{i:D3}.txt"), string.Join(" ", lines) + $"\nDocument number {i}.\n");
        }
        return dir;
    }

    /// <summary>max |a − b| over all elements.</summary>
    public static float MaxAbsDiff(Tensor a, Tensor b) => (float)(a - b).abs().max().to(ScalarType.Float64).item<double>();

    public static string TempDir()
    {
        string d = Path.Combine(Path.GetTempPath(), "ultramem-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(d);
        return d;
    }
}
