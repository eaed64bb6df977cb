using System.Text;

namespace UltraMem.Data;

/// <summary>
/// Cuts one plain-text file into documents. A document ends at a line holding only a form feed
/// (<c>\f</c>, optionally with spaces or tabs) or at a run of three or more blank lines. When that
/// leaves a single document, it is cut into chunks of <see cref="ParagraphsPerChunk"/> paragraphs
/// (paragraphs are separated by blank lines; a text without blank lines has one paragraph per line),
/// so a train/validation split is still possible. Line ends may be LF, CRLF or CR. Ids are <c>name#1</c>, <c>name#2</c>, …
/// </summary>
public static class TextDocuments
{
    /// <summary>Paragraphs per document when a file has no document separators.</summary>
    public const int ParagraphsPerChunk = 20;

    /// <summary>The documents of <paramref name="text"/>; <paramref name="name"/> prefixes their ids.</summary>
    public static IReadOnlyList<Document> Split(string text, string name)
    {
        string[] lines = text.Replace("\r\n", "\n").Replace('\r', '\n').Split('\n');
        var parts = new List<string>();
        var current = new List<string>();
        int blankRun = 0;
        foreach (string line in lines)
        {
            if (IsFormFeedLine(line))
            {
                Flush(current, parts);
                blankRun = 0;
                continue;
            }
            if (string.IsNullOrWhiteSpace(line))
            {
                blankRun++;
                current.Add("");
                continue;
            }
            if (blankRun >= 3)
                Flush(current, parts);
            blankRun = 0;
            current.Add(line);
        }
        Flush(current, parts);

        if (parts.Count == 1)
            parts = Chunk(parts[0]);
        var docs = new List<Document>(parts.Count);
        for (int i = 0; i < parts.Count; i++)
            docs.Add(new Document($"{name}#{i + 1}", parts[i]));
        return docs;
    }

    static bool IsFormFeedLine(string line) => line.Contains('\f') && line.AsSpan().Trim(" \t\f").IsEmpty;

    /// <summary>Adds the trimmed lines as one document (if any are non-blank) and clears them.</summary>
    static void Flush(List<string> lines, List<string> parts)
    {
        int first = lines.FindIndex(l => l.Length > 0),
            last = lines.FindLastIndex(l => l.Length > 0);
        if (first >= 0)
            parts.Add(string.Join('\n', lines.GetRange(first, last - first + 1)));
        lines.Clear();
    }

    static List<string> Chunk(string text)
    {
        var paragraphs = new List<string>();
        var sb = new StringBuilder();
        foreach (string line in text.Split('\n'))
        {
            if (line.Length == 0)
            {
                if (sb.Length > 0)
                {
                    paragraphs.Add(sb.ToString());
                    sb.Clear();
                }
                continue;
            }
            if (sb.Length > 0)
                sb.Append('\n');
            sb.Append(line);
        }
        if (sb.Length > 0)
            paragraphs.Add(sb.ToString());
        if (paragraphs.Count == 1)
            paragraphs = [.. text.Split('\n')];

        var chunks = new List<string>();
        for (int i = 0; i < paragraphs.Count; i += ParagraphsPerChunk)
            chunks.Add(string.Join("\n\n", paragraphs.Skip(i).Take(ParagraphsPerChunk)));
        return chunks;
    }
}
