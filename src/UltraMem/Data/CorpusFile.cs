using System.IO.Compression;
using System.Text;

namespace UltraMem.Data;

/// <summary>Opening corpus files by kind, transparently decompressing <c>.gz</c>.</summary>
public static class CorpusFile
{
    /// <summary>The kind of <paramref name="path"/>, judged by its extension (after removing <c>.gz</c>).</summary>
    public static CorpusFileKind KindOf(string path)
    {
        string name = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        string ext = Path.GetExtension(name).ToLowerInvariant();
        return ext switch
        {
            ".txt" or ".md" => CorpusFileKind.Text,
            ".jsonl" => CorpusFileKind.Jsonl,
            _ => CorpusFileKind.Unsupported,
        };
    }

    /// <summary>A UTF-8 reader over the file, gunzipping it when its name ends in <c>.gz</c>.</summary>
    public static StreamReader OpenText(string path)
    {
        Stream stream = File.OpenRead(path);
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            stream = new GZipStream(stream, CompressionMode.Decompress);
        return new StreamReader(stream, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true);
    }

    /// <summary>The documents of one file: a text file is cut by <see cref="TextDocuments"/> when
    /// <paramref name="splitText"/> is set and is otherwise one document; a JSONL file has one per line.</summary>
    public static IReadOnlyList<Document> Read(string path, string name, bool splitText)
    {
        try
        {
            using var reader = OpenText(path);
            return KindOf(path) switch
            {
                CorpusFileKind.Jsonl => JsonlDocuments.Read(reader, name),
                CorpusFileKind.Text when splitText => TextDocuments.Split(reader.ReadToEnd(), name),
                CorpusFileKind.Text => [new Document(name, reader.ReadToEnd().Replace("\r\n", "\n").Replace('\r', '\n').Trim())],
                _ => throw new UltraMemException(
                    $"unsupported corpus file type: {path} (expected .txt, .md, .jsonl, or one of those gzipped)"
                ),
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new UltraMemException($"cannot read corpus file {path}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
    }
}
