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
        string Cell(string c) =>
            c switch
            {
                "step" => r.Step.ToString(CultureInfo.InvariantCulture),
                "split" => r.Split,
                _ => r.Values.TryGetValue(c, out var v) ? v.ToString("R", CultureInfo.InvariantCulture) : "",
            };
        File.AppendAllText(CsvPath, (header ? string.Join(",", CsvColumns) + "\n" : "") + string.Join(",", CsvColumns.Select(Cell)) + "\n");
    }

    /// <summary>All records in the JSONL log (unparseable lines are reported, not skipped silently).</summary>
    public List<MetricRecord> ReadAll()
    {
        var list = new List<MetricRecord>();
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
                list.Add(
                    new MetricRecord(
                        doc.RootElement.GetProperty("step").GetInt64(),
                        doc.RootElement.GetProperty("split").GetString()!,
                        values
                    )
                );
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                throw new UltraMemException($"{JsonlPath}:{lineNo}: malformed metrics line ({e.Message})");
            }
        }
        return list;
    }

    /// <summary>Drops records with step &gt; <paramref name="step"/> (used when resuming from a checkpoint).</summary>
    public void TruncateAfter(long step)
    {
        var keep = ReadAll().Where(r => r.Step <= step).ToList();
        foreach (var p in new[] { JsonlPath, CsvPath })
            if (File.Exists(p))
                File.Delete(p);
        foreach (var r in keep)
            Append(r);
    }
}
