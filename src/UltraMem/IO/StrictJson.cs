using System.Text.Json;

namespace UltraMem.IO;

/// <summary>
/// What a config file may not contain even where the serializer would take it: a key twice in one object (the last would
/// win silently) and numbers outside the double range (read as infinity, they pass "positive" checks and break the writer).
/// a null as a list element (the serializer's nullable annotations do not reach elements). Nulls where a property
/// requires a value are refused by the serializer itself (<c>RespectNullableAnnotations</c>); <see cref="Describe"/>
/// words its messages.
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
                {
                    if (item.ValueKind == JsonValueKind.Null)
                        throw new JsonException($"{path}[{i}] is null: a list holds values, not nulls");
                    Walk(item, $"{path}[{i++}]");
                }
                break;
            case JsonValueKind.Number:
                if (!e.TryGetDouble(out double v) || !double.IsFinite(v))
                    throw new JsonException($"{path} = {e.GetRawText()} is outside the range of a number");
                break;
        }
    }

    /// <summary>
    /// A serializer error in a user's words: "The JSON value could not be converted to System.Int32. Path: $.d_model |
    /// LineNumber: 0 | …" becomes "$.d_model: expected an integer", a refused null becomes "$.memory_layers: null is not
    /// allowed here"; other messages lose their line/byte position suffix.
    /// </summary>
    public static string Describe(JsonException e)
    {
        string m = e.Message.Split('\n')[0].Trim();
        foreach (var marker in new[] { " Path: ", " LineNumber: " })
            if (m.IndexOf(marker, StringComparison.Ordinal) is var cut and >= 0)
                m = m[..cut];
        m = m.TrimEnd('.', ' ');
        if (e.Path is not { } path)
            return e.LineNumber is { } line ? $"{m} (line {line + 1})" : m;
        if (m.Contains("null values", StringComparison.Ordinal) || m.Contains("cannot be null", StringComparison.Ordinal))
            return $"{path}: null is not allowed here";
        var converted = System.Text.RegularExpressions.Regex.Match(m, @"could not be converted to (?<type>\S+)");
        if (converted.Success)
            return $"{path}: expected {TypeWords(converted.Groups["type"].Value)}";
        return $"{path}: {m}";
    }

    /// <summary>A .NET type name in a user's words ("System.Nullable`1[System.Int64]" → "an integer"); <paramref name="otherwise"/>
    /// for any other type. Also words the command line's parse errors.</summary>
    public static string TypeWords(string type, string otherwise = "an object") =>
        type.Contains("List`1") || type.EndsWith("[]", StringComparison.Ordinal) ? "a list"
        : type.Contains("Dictionary`2") ? "an object"
        : type.Contains("UInt") ? "a non-negative integer"
        : type.Contains("Int32") || type.Contains("Int64") ? "an integer"
        : type.Contains("Double") || type.Contains("Single") ? "a number"
        : type.Contains("Boolean") ? "true or false"
        : type.Contains("String") ? "a string"
        : otherwise;
}
