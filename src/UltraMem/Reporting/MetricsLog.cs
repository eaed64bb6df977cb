using System.Globalization;
using System.Text.Json;

namespace UltraMem.Reporting;

/// <summary>
/// Appends metrics to <c>metrics.jsonl</c> (one JSON object per line) and <c>metrics.csv</c>.
/// On resume, lines logged after the checkpoint's step are dropped first so the log equals an uninterrupted run's.
/// </summary>
public sealed class MetricsLog
{
    public string JsonlPath { get; }
    public string CsvPath { get; }
    static readonly string[] CsvColumns = { "step", "split", "loss", "ppl", "lr", "grad_norm", "tokens_per_s", "tokens", "elapsed_s" };

    public MetricsLog(string directory)
    {
        Directory.CreateDirectory(directory);
        JsonlPath = Path.Combine(directory, "metrics.jsonl");
        CsvPath = Path.Combine(directory, "metrics.csv");
    }

    public void Append(MetricRecord r)
    {
        var obj = new Dictionary<string, object> { ["step"] = r.Step, ["split"] = r.Split };
        foreach (var (k, v) in r.Values)
            obj[k] = double.IsFinite(v) ? v : v.ToString(CultureInfo.InvariantCulture);
        File.AppendAllText(JsonlPath, JsonSerializer.Serialize(obj) + "\n");
        if (r.Split is not ("train" or "val"))
            return; // other records (memory diagnostics) only in the JSONL log
        bool header = !File.Exists(CsvPath) || new FileInfo(CsvPath).Length == 0;
        File.AppendAllText(CsvPath, (header ? string.Join(",", CsvColumns) + "\n" : "") + CsvRow(r) + "\n");
    }

    /// <summary>All records in the JSONL log (unparseable lines are reported, not skipped silently).</summary>
    public List<MetricRecord> ReadAll() => Lines().Select(l => l.Record).ToList();

    /// <summary>The JSONL log's non-empty lines, each with its record.</summary>
    List<(string Line, MetricRecord Record)> Lines()
    {
        var list = new List<(string, MetricRecord)>();
        if (!File.Exists(JsonlPath))
            return list;
        int lineNo = 0;
        foreach (var line in File.ReadLines(JsonlPath))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                var values = new Dictionary<string, double>();
                foreach (var p in doc.RootElement.EnumerateObject())
                    if (p.Name is not ("step" or "split") && p.Value.ValueKind == JsonValueKind.Number)
                        values[p.Name] = p.Value.GetDouble();
                var record = new MetricRecord(
                    doc.RootElement.GetProperty("step").GetInt64(),
                    doc.RootElement.GetProperty("split").GetString()!,
                    values
                );
                list.Add((line, record));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                throw new UltraMemException($"{JsonlPath}:{lineNo}: malformed metrics line ({e.Message})");
            }
        }
        return list;
    }

    /// <summary>
    /// Drops records with step &gt; <paramref name="step"/> (used when resuming from a checkpoint). Each file is replaced
    /// atomically (written beside it, then renamed over it), so a kill at any moment leaves the whole history or the truncated
    /// one, never none; the JSONL lines kept are the original bytes. Nothing is rewritten when no record is past the step.
    /// </summary>
    public void TruncateAfter(long step)
    {
        var lines = Lines();
        if (lines.All(l => l.Record.Step <= step))
            return;
        var kept = lines.Where(l => l.Record.Step <= step).ToList();
        IO.AtomicFile.WriteAllText(JsonlPath, string.Concat(kept.Select(l => l.Line + "\n")));
        var csv = new System.Text.StringBuilder(string.Join(",", CsvColumns) + "\n");
        foreach (var (_, r) in kept.Where(l => l.Record.Split is "train" or "val"))
            csv.Append(CsvRow(r)).Append('\n');
        IO.AtomicFile.WriteAllText(CsvPath, csv.ToString());
    }

    static string CsvRow(MetricRecord r) =>
        string.Join(
            ",",
            CsvColumns.Select(c =>
                c switch
                {
                    "step" => r.Step.ToString(CultureInfo.InvariantCulture),
                    "split" => r.Split,
                    _ => r.Values.TryGetValue(c, out var v) ? v.ToString("R", CultureInfo.InvariantCulture) : "",
                }
            )
        );
}
