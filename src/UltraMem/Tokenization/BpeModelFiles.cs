using System.Globalization;
using System.Text;
using System.Text.Json;

namespace UltraMem.Tokenization;

/// <summary>
/// Reads and writes a <see cref="BpeModel"/> as GPT-2's <c>vocab.json</c> (token string → id) and
/// <c>merges.txt</c> (<c>#version: 0.2</c>, then "left right" per merge in rank order).
/// The written form is canonical (ids ascending, one entry per line, fixed escaping), so equal
/// models give byte-identical files. Reading checks everything and throws
/// <see cref="UltraMemException"/> naming the file and the problem.
/// </summary>
public static class BpeModelFiles
{
    public const string VocabFileName = "vocab.json";
    public const string MergesFileName = "merges.txt";
    public const string MergesHeader = "#version: 0.2";

    static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The canonical vocab.json text.</summary>
    public static string FormatVocab(BpeModel model)
    {
        var sb = new StringBuilder(model.Tokens.Count * 16);
        sb.Append("{\n");
        for (int id = 0; id < model.Tokens.Count; id++)
        {
            sb.Append("  ");
            IO.JsonText.AppendString(sb, model.Tokens[id]);
            sb.Append(": ").Append(id.ToString(CultureInfo.InvariantCulture));
            sb.Append(id + 1 < model.Tokens.Count ? ",\n" : "\n");
        }
        sb.Append("}\n");
        return sb.ToString();
    }

    /// <summary>The canonical merges.txt text.</summary>
    public static string FormatMerges(BpeModel model)
    {
        var sb = new StringBuilder(model.Merges.Count * 12);
        sb.Append(MergesHeader).Append('\n');
        foreach (BpeMerge merge in model.Merges)
            sb.Append(merge.Left).Append(' ').Append(merge.Right).Append('\n');
        return sb.ToString();
    }

    /// <summary>
    /// Writes both files into <paramref name="directory"/> (created if needed). Each file is first
    /// written in full to a temporary file in the same directory, then renamed over the old one, so
    /// an interrupted save never leaves a partly written file.
    /// </summary>
    public static void Write(BpeModel model, string directory)
    {
        Directory.CreateDirectory(directory);
        var staged = new List<(string Temp, string Target)>(2);
        try
        {
            staged.Add(Stage(directory, VocabFileName, FormatVocab(model)));
            staged.Add(Stage(directory, MergesFileName, FormatMerges(model)));
            foreach (var (temp, target) in staged)
                File.Move(temp, target, overwrite: true);
        }
        finally
        {
            foreach (var (temp, _) in staged)
            {
                try
                {
                    if (File.Exists(temp))
                        File.Delete(temp);
                }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
        }
    }

    /// <summary>Reads and checks the two files in <paramref name="directory"/>.</summary>
    public static BpeModel Read(string directory)
    {
        if (!Directory.Exists(directory))
            throw new UltraMemException($"Tokenizer directory '{directory}' does not exist.");
        string vocabPath = Path.Combine(directory, VocabFileName);
        string mergesPath = Path.Combine(directory, MergesFileName);
        string[] tokens = ReadVocab(vocabPath);
        var ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int id = 0; id < tokens.Length; id++)
            ids.Add(tokens[id], id);
        if (!ids.ContainsKey(BpeModel.EndOfText))
            throw new UltraMemException($"'{vocabPath}' has no '{BpeModel.EndOfText}' token.");
        List<BpeMerge> merges = ReadMerges(mergesPath, ids);
        string? problem = BpeModel.FindProblem(tokens, merges, out _);
        if (problem is not null)
            throw new UltraMemException($"'{vocabPath}': {problem}.");
        return new BpeModel(tokens, merges);
    }

    static string[] ReadVocab(string path)
    {
        byte[] bytes = ReadFile(path);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException ex)
        {
            throw new UltraMemException($"'{path}' is not valid JSON: {ex.Message}", ex);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new UltraMemException(
                    $"'{path}' must hold a JSON object mapping token strings to ids, not {document.RootElement.ValueKind}."
                );
            var entries = new List<(string Token, int Id)>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in document.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw new UltraMemException($"'{path}': token '{property.Name}' appears twice.");
                if (property.Value.ValueKind != JsonValueKind.Number || !property.Value.TryGetInt32(out int id))
                    throw new UltraMemException(
                        $"'{path}': token '{property.Name}' has id {property.Value.GetRawText()}, which is not an integer."
                    );
                entries.Add((property.Name, id));
            }
            if (entries.Count == 0)
                throw new UltraMemException($"'{path}' holds no tokens.");
            var tokens = new string?[entries.Count];
            foreach (var (token, id) in entries)
            {
                if (id < 0 || id >= tokens.Length)
                    throw new UltraMemException(
                        $"'{path}': ids must be contiguous 0..{tokens.Length - 1}, but token '{token}' has id {id}."
                    );
                if (tokens[id] is string other)
                    throw new UltraMemException(
                        $"'{path}': ids must be contiguous 0..{tokens.Length - 1}, but id {id} is used by both '{other}' and '{token}'."
                    );
                tokens[id] = token;
            }
            return tokens!;
        }
    }

    static List<BpeMerge> ReadMerges(string path, Dictionary<string, int> ids)
    {
        string text;
        try
        {
            text = Utf8.GetString(ReadFile(path));
        }
        catch (DecoderFallbackException ex)
        {
            throw new UltraMemException($"'{path}' is not valid UTF-8.", ex);
        }
        string[] lines = text.Split('\n');
        var merges = new List<BpeMerge>(lines.Length);
        var firstLine = new Dictionary<BpeMerge, int>(lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            int lineNumber = i + 1;
            if (line.Length == 0 || (i == 0 && line.StartsWith("#version", StringComparison.Ordinal)))
                continue;
            int space = line.IndexOf(' ');
            if (space <= 0 || space == line.Length - 1 || line.IndexOf(' ', space + 1) >= 0)
                throw new UltraMemException($"'{path}' line {lineNumber}: expected two tokens separated by one space, got '{line}'.");
            var merge = new BpeMerge(line[..space], line[(space + 1)..]);
            foreach (string part in (string[])[merge.Left, merge.Right, merge.Result])
            {
                if (!ids.ContainsKey(part))
                    throw new UltraMemException(
                        $"'{path}' line {lineNumber}: token '{part}' of merge '{merge}' is not in {VocabFileName}."
                    );
            }
            if (!firstLine.TryAdd(merge, lineNumber))
                throw new UltraMemException($"'{path}' line {lineNumber}: merge '{merge}' repeats line {firstLine[merge]}.");
            merges.Add(merge);
        }
        return merges;
    }

    static byte[] ReadFile(string path)
    {
        if (!File.Exists(path))
            throw new UltraMemException($"Tokenizer file '{path}' is missing.");
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UltraMemException($"Cannot read tokenizer file '{path}': {ex.Message}", ex);
        }
    }

    static (string Temp, string Target) Stage(string directory, string fileName, string content)
    {
        string target = Path.Combine(directory, fileName);
        string temp = Path.Combine(directory, $".{fileName}.{Guid.NewGuid():N}.tmp");
        using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
        {
            stream.Write(Utf8.GetBytes(content));
            stream.Flush(flushToDisk: true);
        }
        return (temp, target);
    }
}
