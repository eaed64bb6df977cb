using System.Text.Json;

namespace UltraMem.IO;

/// <summary>
/// What a config file may not contain even where the serializer would take it: a key twice in one object (the last would
/// win silently) and numbers outside the double range (read as infinity, they pass "positive" checks and break the writer).
/// Nulls where a value is required are refused by the serializer itself (<c>RespectNullableAnnotations</c>).
/// </summary>
public static class StrictJson
{
    /// <summary>Throws <see cref="JsonException"/> naming the first duplicate key or non-finite number and its path.</summary>
    public static void Check(string json, JsonDocumentOptions options = default)
    {
        using var doc = JsonDocument.Parse(json, options);
        Walk(doc.RootElement, "$");
    }

    static void Walk(JsonElement e, string path)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var p in e.EnumerateObject())
                {
                    if (!seen.Add(p.Name))
                        throw new JsonException($"key '{p.Name}' appears twice in {path}");
                    Walk(p.Value, $"{path}.{p.Name}");
                }
                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in e.EnumerateArray())
                    Walk(item, $"{path}[{i++}]");
                break;
            case JsonValueKind.Number:
                if (!e.TryGetDouble(out double v) || !double.IsFinite(v))
                    throw new JsonException($"{path} = {e.GetRawText()} is outside the range of a number");
                break;
        }
    }
}
