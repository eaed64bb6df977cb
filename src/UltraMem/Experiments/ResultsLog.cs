using System.Text;
using System.Text.Json;

namespace UltraMem.Experiments;

/// <summary>
/// <c>results.jsonl</c> of a comparison folder: one JSON line per finished run, appended and never rewritten or truncated
/// (reports are derived from it). A malformed line is reported with its number and left for a person to fix.
/// </summary>
public sealed class ResultsLog
{
    public const string FileName = "results.jsonl";
    public string Path { get; }

    public ResultsLog(string folder) => Path = System.IO.Path.Combine(folder, FileName);

    public IReadOnlyList<RunRecord> ReadAll()
    {
        var list = new List<RunRecord>();
        if (!File.Exists(Path))
            return list;
        int lineNo = 0;
        foreach (var line in File.ReadLines(Path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            try
            {
                list.Add(JsonSerializer.Deserialize<RunRecord>(line, RunRecord.Json) ?? throw new JsonException("null record"));
            }
            catch (JsonException e)
            {
                throw new UltraMemException(
                    $"{Path}:{lineNo}: malformed results line ({e.Message}); ultramem never rewrites this file, fix or remove the line by hand"
                );
            }
        }
        return list;
    }

    /// <summary>
    /// The result of each (arch, seed): its latest line. Earlier lines of the same run are superseded (a run trained again with
    /// <c>--retrain-stale</c> after its preset changed).
    /// </summary>
    public static Dictionary<(string Arch, ulong Seed), RunRecord> LatestByRun(IEnumerable<RunRecord> records)
    {
        var latest = new Dictionary<(string Arch, ulong Seed), RunRecord>();
        foreach (var r in records)
            latest[(r.Arch, r.Seed)] = r;
        return latest;
    }

    /// <summary>Appends one line (and a newline first if the file's last line lacks one), flushed to disk.</summary>
    public void Append(RunRecord r)
    {
        string line = JsonSerializer.Serialize(r, RunRecord.Json);
        using var f = new FileStream(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        bool needsNewline = false;
        if (f.Length > 0)
        {
            f.Seek(-1, SeekOrigin.End);
            needsNewline = f.ReadByte() != '\n';
        }
        f.Seek(0, SeekOrigin.End);
        var bytes = Encoding.UTF8.GetBytes((needsNewline ? "\n" : "") + line + "\n");
        f.Write(bytes);
        f.Flush(flushToDisk: true);
    }
}
