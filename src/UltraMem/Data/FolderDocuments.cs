namespace UltraMem.Data;

/// <summary>
/// Reads every corpus file under a folder, recursively: each <c>.txt</c> / <c>.md</c> file is one
/// document (id: its relative path with <c>/</c>), each <c>.jsonl</c> file gives one document per line;
/// gzipped versions too. Files are taken in ordinal order of their relative paths; other files, and
/// hidden files and folders (names starting with a dot), are ignored.
/// </summary>
public static class FolderDocuments
{
    /// <summary>The documents under <paramref name="folder"/>, in a stable order.</summary>
    public static IReadOnlyList<Document> Read(string folder)
    {
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = true,
            AttributesToSkip = FileAttributes.Hidden | FileAttributes.System,
            IgnoreInaccessible = false,
        };
        List<(string Relative, string Full)> files;
        try
        {
            files = Directory
                .EnumerateFiles(folder, "*", options)
                .Select(f => (Relative: Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/'), Full: f))
                .Where(f => !f.Relative.Split('/').Any(part => part.StartsWith('.')))
                .Where(f => CorpusFile.KindOf(f.Full) != CorpusFileKind.Unsupported)
                .OrderBy(f => f.Relative, StringComparer.Ordinal)
                .ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UltraMemException($"cannot list corpus folder {folder}: {e.Message.ReplaceLineEndings(" ")}", e);
        }
        var docs = new List<Document>();
        foreach (var (relative, full) in files)
            docs.AddRange(CorpusFile.Read(full, relative, splitText: false));
        return docs;
    }
}
