using System.Text.Json.Nodes;

namespace UltraMem.IO;

/// <summary>The leaf fields in which two JSON documents differ, by path (<c>memory_layers[0].memory.top_m</c>).</summary>
public static class JsonDiff
{
    /// <summary>Every path whose value differs, in path order, with its value in <paramref name="a"/> and in <paramref name="b"/>
    /// ("(unset)" when absent).</summary>
    public static IReadOnlyList<(string Path, string A, string B)> Fields(JsonNode? a, JsonNode? b)
    {
        var x = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var y = new SortedDictionary<string, string>(StringComparer.Ordinal);
        Flatten(a, "", x);
        Flatten(b, "", y);
        var diffs = new List<(string, string, string)>();
        foreach (var key in x.Keys.Union(y.Keys).OrderBy(k => k, StringComparer.Ordinal))
        {
            string u = x.GetValueOrDefault(key, "(unset)"),
                v = y.GetValueOrDefault(key, "(unset)");
            if (u != v)
                diffs.Add((key, u, v));
        }
        return diffs;
    }

    static void Flatten(JsonNode? node, string path, IDictionary<string, string> into)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o)
                    Flatten(v, path.Length == 0 ? k : $"{path}.{k}", into);
                break;
            case JsonArray arr:
                for (int i = 0; i < arr.Count; i++)
                    Flatten(arr[i], $"{path}[{i}]", into);
                if (arr.Count == 0)
                    into[path] = "[]";
                break;
            case null:
                into[path] = "null";
                break;
            default:
                into[path] = node.ToJsonString();
                break;
        }
    }
}
