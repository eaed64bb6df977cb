namespace UltraMem.Data;

/// <summary>
/// Reads every corpus file under a folder, recursively: each <c>.txt</c> / <c>.md</c> file is one
/// document (id: its relative path with <c>/</c>), each <c>.jsonl</c> file gives one document per line;
/// gzipped versions too. Files are taken in ordinal order of their relative paths; other files, hidden files and folders
/// (names starting with a dot), and links to folders (a loop would repeat text) are ignored.
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
            // files behind links are read, but links to folders are not followed: a link loop would read the same text many
            // times over, into both splits
            var entries = new System.IO.Enumeration.FileSystemEnumerable<string>(
                folder,
                (ref System.IO.Enumeration.FileSystemEntry e) => e.ToFullPath(),
                options
            )
            {
                ShouldIncludePredicate = (ref System.IO.Enumeration.FileSystemEntry e) => !e.IsDirectory,
                ShouldRecursePredicate = (ref System.IO.Enumeration.FileSystemEntry e) => (e.Attributes & FileAttributes.ReparsePoint) == 0,
            };
            files = entries
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
