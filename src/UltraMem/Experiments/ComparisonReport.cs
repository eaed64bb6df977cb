using System.Globalization;
using System.Text;
using UltraMem.Reporting;

namespace UltraMem.Experiments;

/// <summary>
/// The reports of a comparison folder, derived from <c>results.jsonl</c> and each run's <c>metrics.jsonl</c> (never the other way
/// round): <c>compare.md</c>, <c>compare.csv</c> and <c>compare.png</c>. Regenerated whenever <c>ultramem compare</c> runs.
/// </summary>
public sealed record ComparisonReport
{
    public required CompareSettings Settings { get; init; }
    public required IReadOnlyList<ArchSummary> Archs { get; init; }

    /// <summary>Per architecture with memory layers: each <see cref="MemoryDiagnostics"/> key's per-seed value (mean over its
    /// layers, from the last evaluation of each run).</summary>
    public IReadOnlyList<(string Arch, IReadOnlyDictionary<string, IReadOnlyList<double>> Values)> Memory { get; init; } = [];

    /// <summary>The memory-layer diagnostics the report lists (docs/memory-layers.md#diagnostics).</summary>
    public static readonly string[] MemoryDiagnostics = { "retrieval_recall", "top1_weight", "coverage", "usage_entropy" };
    public required IReadOnlyList<string> Headers { get; init; }
    public required IReadOnlyList<IReadOnlyList<string>> Rows { get; init; }

    /// <summary>"Full UltraMem improves on PKM by more than 3× the seed spread": the sentence, or null without both archs.</summary>
    public string? Verdict { get; init; }

    /// <summary>True when ultramem beats pkm by more than 3× the larger sample std of the two; null when it cannot be decided.</summary>
    public bool? UltraMemBeatsPkmBeyondSpread { get; init; }
    public IReadOnlyList<string> Notes { get; init; } = Array.Empty<string>();
    public required string MarkdownPath { get; init; }
    public required string CsvPath { get; init; }
    public required string PngPath { get; init; }

    public const string MarkdownFile = "compare.md",
        CsvFile = "compare.csv",
        PngFile = "compare.png";

    /// <summary>Reads the folder's settings and results and (re)writes the three reports.</summary>
    public static ComparisonReport Write(string folder)
    {
        string settingsPath = Path.Combine(folder, Comparison.SettingsFile);
        if (!File.Exists(settingsPath))
            throw new UltraMemException($"{folder} holds no comparison ({Comparison.SettingsFile} is missing)");
        var (settings, fingerprint, _) = CompareSettings.FromFileJson(File.ReadAllText(settingsPath), settingsPath);
        var all = new ResultsLog(folder).ReadAll();
        var notes = new List<string>();
        var foreign = all.Where(r => r.Fingerprint != fingerprint).ToList();
        if (foreign.Count > 0)
            throw new UltraMemException(
                $"{Path.Combine(folder, ResultsLog.FileName)} has {foreign.Count} runs with another settings fingerprint than {settingsPath}"
            );
        var order = Comparison.DefaultArchs(settings.Kind).ToList();
        int Rank(string a) => order.IndexOf(a) is var i && i >= 0 ? i : order.Count;
        var runs = ResultsLog.LatestByRun(all);
        var superseded = all.Where(r => !ReferenceEquals(runs[(r.Arch, r.Seed)], r)).ToList();
        if (superseded.Count > 0)
            notes.Add(
                $"{superseded.Count} earlier line{(superseded.Count == 1 ? "" : "s")} of results.jsonl {(superseded.Count == 1 ? "is" : "are")} superseded by a later run of the same arch and seed "
                    + "(e.g. --retrain-stale after a preset changed) and left out: "
                    + string.Join(
                        "; ",
                        superseded
                            .GroupBy(r => r.Arch)
                            .OrderBy(g => Rank(g.Key))
                            .Select(g =>
                                $"{g.Key} seed {string.Join(",", g.Select(r => r.Seed))} "
                                + $"(val loss {string.Join(", ", g.Select(r => L(r.FinalValLoss)))})"
                            )
                    )
            );
        var archs = runs
            .Values.GroupBy(r => r.Arch)
            .Select(g => new ArchSummary(g.Key, g.OrderBy(r => r.Seed).ToList()))
            .OrderBy(a => Rank(a.Arch))
            .ThenBy(a => a.Arch, StringComparer.Ordinal)
            .ToList();
        foreach (var a in archs.Where(a => a.Runs.Select(r => r.ModelSha).Distinct().Count() > 1))
            notes.Add($"{a.Arch}: its seeds were trained with different model configs (model_sha differs)");
        foreach (var r in archs.SelectMany(a => a.Runs).Where(r => r.Error is not null))
            notes.Add($"{r.Arch} seed {r.Seed} failed and is left out of the statistics: {r.Error}");
        var seedSets = archs.Select(a => string.Join(",", a.Runs.Select(r => r.Seed))).Distinct().ToList();
        if (seedSets.Count > 1)
            notes.Add(
                "not every architecture has the same seeds yet: "
                    + string.Join("; ", archs.Select(a => $"{a.Arch} {{{string.Join(",", a.Runs.Select(r => r.Seed))}}}"))
            );
        var unfinished = Directory.Exists(folder)
            ? Directory
                .GetDirectories(folder)
                .SelectMany(d => Directory.GetDirectories(d, "seed-*"))
                .Select(d => (Arch: Path.GetFileName(Path.GetDirectoryName(d))!, Seed: Path.GetFileName(d)["seed-".Length..]))
                .Where(x => ulong.TryParse(x.Seed, out var sd) && !runs.ContainsKey((x.Arch, sd)))
                .Select(x => $"{x.Arch} seed {x.Seed}")
                .OrderBy(x => x, StringComparer.Ordinal)
                .ToList()
            : new List<string>();
        if (unfinished.Count > 0)
            notes.Add(
                "unfinished runs (not in the table; `ultramem compare` with the same options continues them): "
                    + string.Join(", ", unfinished)
            );

        // each finished run's logged metrics, read once for the diagnostics table and the curves
        var metrics = archs
            .SelectMany(a => a.Runs)
            .Where(r => r.Error is null)
            .ToDictionary(
                r => r,
                r =>
                    File.Exists(Path.Combine(folder, r.RunDir, "metrics.jsonl"))
                        ? new MetricsLog(Path.Combine(folder, r.RunDir)).ReadAll()
                        : new List<MetricRecord>()
            );
        bool ladder = settings.Kind == CompareSettings.LadderKind;
        var (headers, rows, csv) = Table(archs, ladder);
        var (verdict, beats) = VerdictOf(archs);
        var report = new ComparisonReport
        {
            Settings = settings,
            Archs = archs,
            Memory = MemoryOf(archs, metrics),
            Headers = headers,
            Rows = rows,
            Verdict = verdict,
            UltraMemBeatsPkmBeyondSpread = beats,
            Notes = notes,
            MarkdownPath = Path.Combine(folder, MarkdownFile),
            CsvPath = Path.Combine(folder, CsvFile),
            PngPath = Path.Combine(folder, PngFile),
        };
        IO.AtomicFile.WriteAllText(report.CsvPath, csv);
        IO.AtomicFile.WriteAllText(report.MarkdownPath, report.Markdown(fingerprint));
        Plot(report, metrics);
        return report;
    }

    /// <summary>
    /// The last <c>mem_val</c> record of each run (the final evaluation over the whole validation split): per diagnostic the mean
    /// over the run's memory layers (<c>memJ.KEY</c>), per seed.
    /// </summary>
    static List<(string, IReadOnlyDictionary<string, IReadOnlyList<double>>)> MemoryOf(
        IReadOnlyList<ArchSummary> archs,
        IReadOnlyDictionary<RunRecord, List<MetricRecord>> metrics
    )
    {
        var list = new List<(string, IReadOnlyDictionary<string, IReadOnlyList<double>>)>();
        foreach (var a in archs)
        {
            var values = MemoryDiagnostics.ToDictionary(k => k, _ => new List<double>());
            foreach (var r in a.Runs.Where(r => r.Error is null))
            {
                var last = metrics[r].LastOrDefault(x => x.Split == "mem_val");
                if (last is null)
                    continue;
                foreach (var key in MemoryDiagnostics)
                {
                    var perLayer = last
                        .Values.Where(kv => kv.Key.EndsWith("." + key, StringComparison.Ordinal))
                        .Select(kv => kv.Value)
                        .ToList();
                    if (perLayer.Count > 0)
                        values[key].Add(perLayer.Average());
                }
            }
            if (values.Values.Any(v => v.Count > 0))
                list.Add((a.Arch, values.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<double>)kv.Value)));
        }
        return list;
    }

    static string L(double v) => double.IsFinite(v) ? v.ToString("F4", CultureInfo.InvariantCulture) : "–";

    static string D(double v, string format = "+0.0000;-0.0000;0.0000") =>
        double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "";

    static string C(double v) => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "";

    /// <summary>The summary table: text cells for the terminal and Markdown, and the CSV with raw numbers.</summary>
    static (IReadOnlyList<string>, IReadOnlyList<IReadOnlyList<string>>, string) Table(IReadOnlyList<ArchSummary> archs, bool ladder)
    {
        var headers = new List<string> { ladder ? "rung" : "arch", "seeds", "val loss mean", "± std", "min–max" };
        if (ladder)
            headers.AddRange(new[] { "Δ prev", "paper Δ prev", "Δ vs pkm", "paper Δ vs pkm" });
        else
            headers.Add("Δ vs dense");
        headers.AddRange(new[] { "tokens/s", "total params", "activated/token", "FLOPs/token" });
        var csv = new StringBuilder(
            "arch,seeds,n,val_loss_mean,val_loss_std,val_loss_min,val_loss_max,delta_prev,paper_delta_prev,delta_vs_ref,paper_delta_vs_ref,reference,train_tokens_per_s,total_params,activated_params,flops_per_token,paper_val_loss\n"
        );
        var rows = new List<IReadOnlyList<string>>();
        var dense = archs.FirstOrDefault(a => a.Arch == "dense");
        var pkm = archs.FirstOrDefault(a => a.Arch == "pkm");
        ArchSummary? prev = null;
        foreach (var a in archs)
        {
            int failed = a.Runs.Count - a.N;
            var row = new List<string>
            {
                a.Arch,
                a.N.ToString(CultureInfo.InvariantCulture) + (failed > 0 ? $" (+{failed} failed)" : ""),
                L(a.Mean),
                L(a.Std),
                a.N > 0 ? $"{L(a.Min)}–{L(a.Max)}" : "–",
            };
            double dPrev = double.NaN,
                pPrev = double.NaN,
                dRef = double.NaN,
                pRef = double.NaN;
            double paper = ladder && PaperLadder.ValLoss.TryGetValue(a.Arch, out var pv) ? pv : double.NaN;
            string reference = "";
            if (ladder)
            {
                if (prev is not null)
                {
                    dPrev = a.Mean - prev.Mean;
                    pPrev = paper - PaperLadder.ValLoss.GetValueOrDefault(prev.Arch, double.NaN);
                }
                if (pkm is not null && a != pkm)
                {
                    dRef = a.Mean - pkm.Mean;
                    pRef = paper - PaperLadder.ValLoss["pkm"];
                    reference = "pkm";
                }
                row.AddRange(new[] { D(dPrev), D(pPrev, "+0.000;-0.000;0.000"), D(dRef), D(pRef, "+0.000;-0.000;0.000") });
                prev = a;
            }
            else
            {
                if (dense is not null && a != dense)
                {
                    dRef = a.Mean - dense.Mean;
                    reference = "dense";
                }
                row.Add(D(dRef));
            }
            row.AddRange(
                new[]
                {
                    double.IsFinite(a.TokensPerSecond) ? a.TokensPerSecond.ToString("N0", CultureInfo.InvariantCulture) : "–",
                    a.First.TotalParams.ToString("N0", CultureInfo.InvariantCulture),
                    a.First.ActivatedParams.ToString("N0", CultureInfo.InvariantCulture),
                    a.First.FlopsPerToken.ToString("N0", CultureInfo.InvariantCulture),
                }
            );
            rows.Add(row);
            csv.AppendLine(
                string.Join(
                    ",",
                    new[]
                    {
                        a.Arch,
                        string.Join(" ", a.Runs.Select(r => r.Seed)),
                        a.N.ToString(CultureInfo.InvariantCulture),
                        C(a.Mean),
                        C(a.Std),
                        C(a.Min),
                        C(a.Max),
                        C(dPrev),
                        C(pPrev),
                        C(dRef),
                        C(pRef),
                        reference,
                        C(a.TokensPerSecond),
                        a.First.TotalParams.ToString(CultureInfo.InvariantCulture),
                        a.First.ActivatedParams.ToString(CultureInfo.InvariantCulture),
                        a.First.FlopsPerToken.ToString(CultureInfo.InvariantCulture),
                        C(paper),
                    }
                )
            );
        }
        return (headers, rows, csv.ToString());
    }

    /// <summary>Does the full UltraMem (the ladder's <c>ultramem</c> rung) beat PKM by more than 3× the seed-to-seed spread?</summary>
    static (string?, bool?) VerdictOf(IReadOnlyList<ArchSummary> archs)
    {
        var pkm = archs.FirstOrDefault(a => a.Arch == "pkm");
        var um = archs.FirstOrDefault(a => a.Arch == "ultramem");
        if (pkm is null || um is null)
            return (null, null);
        if (pkm.N < 2 || um.N < 2)
            return (
                $"UltraMem vs PKM: Δ {D(um.Mean - pkm.Mean)} nats; the seed spread needs at least 2 seeds of each (have {um.N} and {pkm.N})",
                null
            );
        double delta = um.Mean - pkm.Mean,
            spread = Math.Max(pkm.Std, um.Std);
        bool beats = delta < 0 && -delta > 3 * spread;
        var paired = um
            .Runs.Join(pkm.Runs, r => r.Seed, r => r.Seed, (u, p) => u.FinalValLoss - p.FinalValLoss)
            .Where(double.IsFinite)
            .ToList();
        string pairedText =
            paired.Count >= 2
                ? $"; per seed (same data order) Δ {D(Stats.Mean(paired))} ± {L(Stats.SampleStd(paired))} (sample std over {paired.Count} seeds)"
                : "";
        return (
            $"UltraMem (ultramem) − PKM (pkm): Δ {D(delta)} nats/token; seed spread {L(spread)} (the larger sample std of the two), 3× spread {L(3 * spread)}: "
                + (
                    beats
                        ? "the full UltraMem improves on PKM by MORE than 3× the seed-to-seed spread"
                        : "the full UltraMem does NOT improve on PKM by more than 3× the seed-to-seed spread"
                )
                + pairedText,
            beats
        );
    }

    public string Markdown(string fingerprint)
    {
        var s = Settings;
        var t = s.Train;
        var md = new StringBuilder();
        md.AppendLine(
                s.Kind == CompareSettings.LadderKind
                    ? $"# UltraMem ablation ladder on `{s.ModelName}`"
                    : $"# Matched family on `{s.ModelName}`"
            )
            .AppendLine();
        md.AppendLine(
            $"Each architecture is matched to the family of `{s.ModelName}` (d_model {s.BaseModel.DModel}, {s.BaseModel.NLayers} layers; equal activated FLOPs/token, "
                + "equal total parameters for the sparse ones; docs/families.md) and trained on the same data for the same token budget and seeds.  "
        );
        md.AppendLine(
            $"Corpus `{t.Corpus}` (tokenizer {t.TokenizerVocabSize} tokens, validation fraction {t.ValidationFraction}); {t.MaxSteps} steps × {t.BatchSize}×{s.SeqLen}"
                + (t.GradAccum > 1 ? $"×{t.GradAccum}" : "")
                + $" = {s.TokensPerRun:N0} tokens per run; lr {t.LearningRate} (warmup {t.WarmupResolved}, cosine to {t.MinLrRatio}×), "
                + $"dropout {s.BaseModel.Dropout}, value updates {IO.JsonEnum.Name(t.ValueUpdates)}, {t.Threads} threads; settings fingerprint `{fingerprint}`.  "
        );
        md.AppendLine(
            $"Validation loss: nats/token over the whole validation split after the last step. Spread: sample standard deviation over seeds (n − 1) and min–max. "
                + "A seed fixes the initialisation seed and the data order, the same for every architecture. tokens/s: training steps only "
                + "(evaluation and checkpoint steps excluded), mean over seeds.  "
        );
        md.AppendLine($"Report written {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC from `{ResultsLog.FileName}`.").AppendLine();
        md.AppendLine("| " + string.Join(" | ", Headers) + " |");
        md.AppendLine("|" + string.Join("|", Headers.Select((_, i) => i == 0 ? "---" : "---:")) + "|");
        foreach (var r in Rows)
            md.AppendLine("| " + string.Join(" | ", r) + " |");
        md.AppendLine();
        if (s.Kind == CompareSettings.LadderKind)
            md.AppendLine(
                    $"Δ prev: change from the previous rung in the table (rungs are cumulative); Δ vs pkm: from the first rung. Paper columns: the same differences of the paper's losses — {PaperLadder.Source}. "
                        + "The paper's model is far larger (151M activated parameters) and trained on far more tokens; compare signs and rough sizes, not values."
                )
                .AppendLine();
        if (Verdict is not null)
            md.AppendLine($"**{Verdict}.**").AppendLine();
        foreach (var n in Notes)
            md.AppendLine($"- {n}");
        if (Notes.Count > 0)
            md.AppendLine();
        if (Memory.Count > 0)
        {
            md.AppendLine(
                    "**Memory-layer diagnostics** at the final evaluation (mean over the model's memory layers; mean ± std over seeds; "
                        + "docs/memory-layers.md#diagnostics): `retrieval_recall` — share of the exact top-m (whole TDQKR grid) the search found; "
                        + "`top1_weight` — softmax weight of each head's best row (1/m uniform, 1 argmax); `coverage` — share of the value rows "
                        + "selected at least once over the validation split; `usage_entropy` — entropy of the row usage ÷ log N."
                )
                .AppendLine();
            md.AppendLine("| arch | " + string.Join(" | ", MemoryDiagnostics) + " |");
            md.AppendLine("|---|" + string.Join("|", MemoryDiagnostics.Select(_ => "---:")) + "|");
            foreach (var (arch, values) in Memory)
                md.AppendLine(
                    $"| {arch} | "
                        + string.Join(
                            " | ",
                            MemoryDiagnostics.Select(k =>
                                values[k] is { Count: > 0 } v
                                    ? (v.Count > 1 ? $"{Stats.Mean(v.ToList()):G4} ± {Stats.SampleStd(v.ToList()):G2}" : $"{v[0]:G4}")
                                    : "–"
                            )
                        )
                        + " |"
                );
            md.AppendLine();
        }
        md.AppendLine($"![validation loss curves]({PngFile})").AppendLine();
        md.AppendLine(
            $"Curves: validation loss every {t.EvalInterval} steps on the first {(t.EvalBatches is { } eb ? eb.ToString(CultureInfo.InvariantCulture) + " validation batches" : "whole validation split")} "
                + "(the same batches for every run), and at the last step on the whole split; bold: mean over seeds, faint: each seed; right panel: the last 60 % of training."
        );
        return md.ToString();
    }

    /// <summary>compare.png: validation loss against training tokens, mean over seeds (bold) and each seed (faint), full range and
    /// zoomed.</summary>
    static void Plot(ComparisonReport report, IReadOnlyDictionary<RunRecord, List<MetricRecord>> metrics)
    {
        var curves = new List<(string Arch, List<(double X, double Y)> Mean, List<List<(double X, double Y)>> Seeds)>();
        foreach (var a in report.Archs)
        {
            var seeds = new List<List<(double, double)>>();
            foreach (var r in a.Runs.Where(r => r.Error is null))
            {
                var m = metrics[r];
                seeds.Add(
                    m.Where(x => x.Split == "val" && x.Values.ContainsKey("loss"))
                        .Select(x => ((x.Values.TryGetValue("tokens", out var tk) ? tk : x.Step) / 1e6, x.Values["loss"]))
                        .ToList()
                );
            }
            // mean over seeds at the evaluation points every seed has
            var common =
                seeds.Count == 0
                    ? new List<double>()
                    : seeds.Select(c => c.Select(p => p.Item1)).Aggregate((x, y) => x.Intersect(y)).OrderBy(x => x).ToList();
            var mean = common.Select(x => (x, seeds.Average(c => c.First(p => p.Item1 == x).Item2))).ToList();
            curves.Add((a.Arch, mean, seeds));
        }
        var mp = new ScottPlot.Multiplot();
        ScottPlot.IMultiplotExtensions.AddPlots(mp, 2);
        mp.Layout = new ScottPlot.MultiplotLayouts.Columns();
        ScottPlot.IPalette palette = report.Archs.Count <= 10 ? new ScottPlot.Palettes.Category10() : new ScottPlot.Palettes.Category20();
        // the zoomed panel: the last 60 % of training, where the architectures separate
        double maxX = curves.SelectMany(c => c.Mean).Select(p => p.X).DefaultIfEmpty(0).Max();
        var late = curves.SelectMany(c => c.Seeds.SelectMany(x => x)).Where(p => p.X >= 0.4 * maxX).Select(p => p.Y).ToList();
        for (int panel = 0; panel < 2; panel++)
        {
            var plt = ScottPlot.IMultiplotExtensions.GetPlot(mp, panel);
            for (int i = 0; i < curves.Count; i++)
            {
                var color = palette.GetColor(i);
                foreach (var seed in curves[i].Seeds.Where(c => c.Count > 0 && curves[i].Seeds.Count > 1))
                {
                    var sc = plt.Add.Scatter(seed.Select(p => p.X).ToArray(), seed.Select(p => p.Y).ToArray());
                    sc.LineWidth = 1;
                    sc.MarkerSize = 0;
                    sc.Color = color.WithAlpha(0.3);
                }
                if (curves[i].Mean.Count == 0)
                    continue;
                var m = plt.Add.Scatter(curves[i].Mean.Select(p => p.X).ToArray(), curves[i].Mean.Select(p => p.Y).ToArray());
                m.LineWidth = 2;
                m.MarkerSize = 5;
                m.Color = color;
                if (panel == 1)
                    m.LegendText = $"{curves[i].Arch} (n={curves[i].Seeds.Count})";
            }
            plt.XLabel("training tokens (M)");
            plt.YLabel("validation loss (nats/token)");
            if (panel == 0)
                plt.Title($"{report.Settings.ModelName} {report.Settings.Kind}: mean over seeds (faint: each seed)");
            else
            {
                plt.Title("zoom: last 60 % of training");
                plt.ShowLegend(ScottPlot.Alignment.UpperRight);
                if (late.Count > 0)
                {
                    double lo = late.Min(),
                        hi = late.Max(),
                        pad = Math.Max(1e-3, 0.05 * (hi - lo));
                    plt.Axes.SetLimits(0.4 * maxX - 0.02 * maxX, maxX * 1.02, lo - pad, hi + pad);
                }
            }
        }
        Reporting.PngFile.Save(mp, report.PngPath, 1400, 560);
    }
}
