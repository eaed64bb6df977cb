using System.Text.Json;

namespace UltraMem.Data;

/// <summary>
/// Reads JSON Lines: one object per line with a string field <c>text</c> and an optional <c>id</c>
/// (string or number; default <c>source:line</c>). Blank lines are skipped; any other malformed
/// line is an <see cref="UltraMemException"/> naming the source and the line number.
/// </summary>
public static class JsonlDocuments
{
    /// <summary>All documents of <paramref name="reader"/>; <paramref name="source"/> names it in ids and errors.</summary>
    public static IReadOnlyList<Document> Read(TextReader reader, string source)
    {
        var docs = new List<Document>();
        int lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            docs.Add(Parse(line, source, lineNumber));
        }
        return docs;
    }

    static Document Parse(string line, string source, int lineNumber)
    {
        string where = $"{source}:{lineNumber}";
        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new UltraMemException($"{where}: not valid JSON ({OneLine(e.Message)})", e);
        }
        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new UltraMemException($"{where}: expected a JSON object, found {root.ValueKind.ToString().ToLowerInvariant()}");
            if (!root.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                throw new UltraMemException($"{where}: missing string field \"text\"");
            string id = where;
            if (root.TryGetProperty("id", out var idElement))
            {
                id = idElement.ValueKind switch
                {
                    JsonValueKind.String => idElement.GetString()!,
                    JsonValueKind.Number => idElement.GetRawText(),
                    JsonValueKind.Null => where,
                    _ => throw new UltraMemException($"{where}: field \"id\" must be a string or a number"),
                };
            }
            return new Document(id, text.GetString()!);
        }
    }

    static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
