using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using UltraMem.Reporting;

namespace UltraMem.Benchmarks;

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

/// <summary>Summary statistics of benchmark samples (seeds, repeated timings).</summary>
public static class Stats
{
    /// <summary>The middle value (the mean of the two middle ones for an even count); NaN when empty.</summary>
    public static double Median(IReadOnlyCollection<double> xs)
    {
        if (xs.Count == 0) return double.NaN;
        var s = xs.OrderBy(v => v).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    public static double Mean(IReadOnlyCollection<double> xs) => xs.Count == 0 ? double.NaN : xs.Sum() / xs.Count;

    /// <summary>Sample standard deviation (n − 1 in the denominator); NaN for fewer than two values.</summary>
    public static double SampleStd(IReadOnlyCollection<double> xs)
    {
        if (xs.Count < 2) return double.NaN;
        double m = Mean(xs);
        return Math.Sqrt(xs.Sum(x => (x - m) * (x - m)) / (xs.Count - 1));
    }

    /// <summary>
    /// Training tokens/s of a run from its metrics: tokens per step divided by the mean duration of the steps that do not follow an
    /// evaluation or a checkpoint (their <c>elapsed_s</c> difference includes that work) — step 1 (warm-up) excluded too, and so are
    /// steps over 3× the median step (the first step of a resumed session).
    /// </summary>
    public static double TrainingTokensPerSecond(IReadOnlyList<MetricRecord> metrics, long tokensPerStep, long checkpointInterval)
    {
        var elapsed = new Dictionary<long, double>();
        foreach (var r in metrics)
            if (r.Split == "train" && r.Values.TryGetValue("elapsed_s", out var e)) elapsed[r.Step] = e;
        var evalSteps = metrics.Where(r => r.Split == "val").Select(r => r.Step).ToHashSet();
        var durations = new List<double>();
        foreach (var (step, t) in elapsed)
        {
            long prev = step - 1;
            if (prev < 1 || !elapsed.TryGetValue(prev, out var tp)) continue;
            if (evalSteps.Contains(prev) || (checkpointInterval > 0 && prev % checkpointInterval == 0)) continue;
            if (t > tp) durations.Add(t - tp);
        }
        if (durations.Count == 0) return double.NaN;
        // a resumed session's first step also carries the interrupted checkpoint and warm-up: drop steps over 3× the median
        var sorted = durations.OrderBy(d => d).ToList();
        double median = sorted[sorted.Count / 2];
        var kept = durations.Where(d => d <= 3 * median).ToList();
        return tokensPerStep / kept.Average();
    }
}
