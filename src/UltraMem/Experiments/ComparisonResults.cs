using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using UltraMem.Reporting;

namespace UltraMem.Experiments;

/// <summary>One finished run of a comparison: a line of <c>results.jsonl</c>.</summary>
public sealed record RunRecord
{
    public required string Arch { get; init; }
    public ulong Seed { get; init; }
    /// <summary><c>family</c> or <c>ladder</c>.</summary>
    public string Comparison { get; init; } = "";
    public string ModelName { get; init; } = "";
    public long Steps { get; init; }
    /// <summary>Training tokens seen (steps × batch × seq_len × grad_accum).</summary>
    public long Tokens { get; init; }
    /// <summary>Validation loss (nats/token) over the whole validation split after the last step.</summary>
    public double FinalValLoss { get; init; }
    /// <summary>Training throughput: tokens per step / mean step time, over the steps not preceded by an evaluation or a checkpoint.</summary>
    public double TrainTokensPerS { get; init; }
    /// <summary>The trainer's clock over the whole run (all sessions): steps, evaluations and checkpoints; not process start-up.</summary>
    public double TrainSeconds { get; init; }
    public long TotalParams { get; init; }
    public long ActivatedParams { get; init; }
    public long FlopsPerToken { get; init; }
    public int Threads { get; init; }
    /// <summary>The comparison settings' fingerprint (<see cref="CompareSettings.Fingerprint"/>).</summary>
    public string Fingerprint { get; init; } = "";
    /// <summary>First 16 hex digits of SHA-256 of the run's model config JSON (vocab_size included).</summary>
    public string ModelSha { get; init; } = "";
    /// <summary>The run folder, relative to the comparison folder.</summary>
    public string RunDir { get; init; } = "";
    public string FinishedUtc { get; init; } = "";
    /// <summary>UltraMem.NET's informational version (with the commit it was built from).</summary>
    public string Version { get; init; } = "";
    public int Cores { get; init; }
    /// <summary>Why the run has no result (training diverged); null for a finished run. A failed run is not retried.</summary>
    public string? Error { get; init; }
    /// <summary>The settings identity the fingerprint was computed from (self-describing lines).</summary>
    public JsonObject? Settings { get; init; }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = false,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}

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
        if (!File.Exists(Path)) return list;
        int lineNo = 0;
        foreach (var line in File.ReadLines(Path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try { list.Add(JsonSerializer.Deserialize<RunRecord>(line, RunRecord.Json) ?? throw new JsonException("null record")); }
            catch (JsonException e)
            {
                throw new UltraMemException($"{Path}:{lineNo}: malformed results line ({e.Message}); ultramem never rewrites this file, fix or remove the line by hand");
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
        foreach (var r in records) latest[(r.Arch, r.Seed)] = r;
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
