using System.Globalization;
using System.Text;
using UltraMem.Reporting;
using UltraMem.Training;

namespace UltraMem.Benchmarks;

/// <summary>Tables (Markdown, CSV) and plots (PNG) of <see cref="DecodeBenchmark"/> results: <c>bench decode</c> and <c>bench
/// scaling</c>.</summary>
public static class DecodeReport
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>One line describing this machine and the run: CPU, cores, OS, TorchSharp, threads, read bandwidth, date.</summary>
    public static string Machine(int? threads, MachineRates rates, double? otherCpuUse)
    {
        string cpu = "unknown CPU";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException) { }
        double memGb = 0;
        try
        {
            memGb =
                double.Parse(
                    File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[
                        1
                    ],
                    Inv
                ) / 1048576;
        }
        catch (Exception) { }
        return $"{cpu}, {Environment.ProcessorCount} cores, {memGb:F0} GiB RAM, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}; "
            + $"TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version} (CPU), {threads?.ToString(Inv) ?? "all"} threads; "
            + $"measured read bandwidth {rates.ReadGbPerS:F1} GB/s, matmul {rates.MatmulGflops:F0} GFLOP/s; other processes' CPU use before the run {otherCpuUse?.ToString("P0", Inv) ?? "?"}; {DateTime.UtcNow:yyyy-MM-dd}";
    }

    public static void WriteCsv(string path, IReadOnlyList<DecodeMeasurement> ms, MachineRates? rates = null)
    {
        var csv = new StringBuilder(
            "variant,arch,scale,batch,step_ms_median,step_ms_min,step_ms_max,tokens_per_s,total_params,dense_params,flops_per_token,"
                + "params_read,bytes_read,cost_model_spec_params,cost_model_uniform_params,kv_bytes,"
                + "roofline_ms,roofline_attention_ms,roofline_slots_ms,roofline_head_ms,step_over_roofline,step_ms_samples\n"
        );
        string Roof(DecodeMeasurement m, string? component) =>
            rates is { } r && m.Roofline is { } roof ? F(component is null ? roof.Ms(r) : roof.Ms(component, r)) : "";
        foreach (var m in ms)
            csv.AppendLine(
                string.Join(
                    ",",
                    new object[]
                    {
                        $"\"{m.Variant.Name}\"",
                        m.Variant.Arch,
                        m.Variant.Scale,
                        m.Batch,
                        F(m.MedianMs),
                        F(m.MinMs),
                        F(m.MaxMs),
                        F(m.TokensPerSecond),
                        m.TotalParameters,
                        m.DenseParameters,
                        m.FlopsPerToken,
                        m.ParametersRead,
                        m.BytesRead,
                        m.CostModelSpec,
                        m.CostModelUniform,
                        m.KvBytes,
                        Roof(m, null),
                        Roof(m, DecodeRoofline.Attention),
                        Roof(m, DecodeRoofline.Slots),
                        Roof(m, DecodeRoofline.Head),
                        rates is { } rr && m.Roofline is { } rf ? F(m.MedianMs / rf.Ms(rr)) : "",
                        "\"" + string.Join(" ", m.StepMs.Select(F)) + "\"",
                    }.Select(o => Convert.ToString(o, Inv))
                )
            );
        IO.AtomicFile.WriteAllText(path, csv.ToString());
    }

    /// <summary>The <c>bench decode</c> report: decode.md, decode.csv, decode-time.png, decode-bytes.png. Returns the Markdown.</summary>
    public static string WriteDecode(
        string folder,
        string command,
        string machine,
        DecodeBenchSettings s,
        IReadOnlyList<DecodeMeasurement> ms,
        IReadOnlyList<SlotProfile> profile,
        MachineRates? rates = null
    )
    {
        Directory.CreateDirectory(folder);
        WriteCsv(Path.Combine(folder, "decode.csv"), ms, rates);
        double? Roofline(DecodeMeasurement? m) => rates is { } r && m?.Roofline is { } roof ? roof.Ms(r) : null;
        var variants = ms.Select(m => m.Variant).Distinct().ToList();
        var batches = ms.Select(m => m.Batch).Distinct().OrderBy(b => b).ToList();
        DecodeMeasurement? At(DecodeVariant v, int b) => ms.FirstOrDefault(m => m.Variant == v && m.Batch == b);
        DecodeVariant? Arch(string a) => variants.FirstOrDefault(v => v.Arch == a);

        var md = new StringBuilder();
        void BatchHeader(string first) => // a table with a column per batch size
            md.AppendLine($"| {first} | " + string.Join(" | ", batches.Select(b => $"B={b}")) + " |")
                .AppendLine("|---|" + string.Concat(batches.Select(_ => "---:|")));
        md.AppendLine("# Decode benchmark: one decoding step of whole models of a matched family").AppendLine();
        md.AppendLine($"Command: `{command}`  ").AppendLine($"Machine: {machine}.  ");
        md.AppendLine(
                $"One step = one new token for each of B sequences whose KV cache holds {s.KvLength} positions, logits for the new position; "
                    + $"median of {s.Repetitions} steps after {s.Warmup} warm-up, all models interleaved in one process (order rotating per repetition), random token ids, float32, untrained weights."
            )
            .AppendLine();
        md.AppendLine("| model | total params | dense (always read) | FLOPs/token |").AppendLine("|---|---:|---:|---:|");
        foreach (var v in variants)
        {
            var m = ms.First(x => x.Variant == v);
            md.AppendLine(
                $"| {v.Name} | {Format.Count(m.TotalParameters)} | {Format.Count(m.DenseParameters)} | {Format.Count(m.FlopsPerToken)} |"
            );
        }
        void VariantRows(Func<DecodeMeasurement, string> cell) // a table with a row per model and a column per batch size
        {
            BatchHeader("model");
            foreach (var v in variants)
                md.AppendLine($"| {v.Name} | " + string.Join(" | ", batches.Select(b => At(v, b) is { } m ? cell(m) : "")) + " |");
        }
        md.AppendLine().AppendLine("**Step time, ms** (median; min–max)").AppendLine();
        VariantRows(m => $"{m.MedianMs:F1} ({m.MinMs:F1}–{m.MaxMs:F1})");

        var ratios = new List<(string Label, DecodeVariant A, DecodeVariant B)>();
        foreach (
            var (a, b) in new[]
            {
                ("moe", "ultramem"),
                ("moe", "ultramemv2"),
                ("ultramem", "dense"),
                ("ultramemv2", "dense"),
                ("moe", "dense"),
                ("pkm", "dense"),
            }
        )
            if (Arch(a) is { } va && Arch(b) is { } vb)
                ratios.Add(($"{a} / {b}", va, vb));
        if (ratios.Count > 0)
        {
            md.AppendLine()
                .AppendLine("**Step-time ratios** (medians" + (rates is null ? ")" : "; in brackets: the same ratio of the rooflines)"))
                .AppendLine();
            BatchHeader("ratio");
            foreach (var (label, a, b) in ratios)
                md.AppendLine(
                    $"| {label} | "
                        + string.Join(
                            " | ",
                            batches.Select(x =>
                                At(a, x) is { } ma && At(b, x) is { } mb
                                    ? $"{ma.MedianMs / mb.MedianMs:F2}×"
                                        + (Roofline(ma) is { } ra && Roofline(mb) is { } rb ? $" ({ra / rb:F2}×)" : "")
                                    : ""
                            )
                        )
                        + " |"
                );
        }

        md.AppendLine()
            .AppendLine(
                "**Parameters read per step, MB (float32)** — counted from what the step touched; in brackets: counted ÷ the cost model (docs/results.md §1), counted ÷ uniform-routing expectation"
            )
            .AppendLine();
        VariantRows(m =>
            $"{m.BytesRead / 1e6:F1} ({(double)m.ParametersRead / m.CostModelSpec:F2}, {(double)m.ParametersRead / m.CostModelUniform:F2})"
        );
        md.AppendLine()
            .AppendLine(
                $"KV-cache bytes the attention reads per step (same for every model): "
                    + string.Join(", ", batches.Select(b => $"B={b}: {ms.First(m => m.Batch == b).KvBytes / 1e6:F0} MB"))
                    + "."
            );
        if (rates is { } mr && ms.All(m => m.Roofline is not null))
        {
            md.AppendLine()
                .AppendLine(
                    "**Roofline, ms** — the floor of each step: Σ over its components (attention + KV, feed-forward slots, output head) "
                        + $"of max(FLOPs ÷ {mr.MatmulGflops:F0} GFLOP/s, bytes read ÷ {mr.ReadGbPerS:F1} GB/s), with the value rows and "
                        + "experts the step actually read; in brackets: measured step ÷ roofline"
                )
                .AppendLine();
            VariantRows(m => $"{Roofline(m):F2} ({m.MedianMs / Roofline(m)!.Value:F1}×)");
            md.AppendLine()
                .AppendLine(
                    "**Roofline by component, ms** — each component's floor, (F) bound by FLOPs, (B) by bytes; the step ÷ its roofline"
                )
                .AppendLine();
            md.AppendLine("| model | B | attention + KV | feed-forward slots | output head | roofline | step | step ÷ roofline |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            string Part(DecodeRoofline.Part p) => $"{p.Ms(mr):F2} ({(p.FlopsMs(mr) >= p.BytesMs(mr) ? "F" : "B")})";
            foreach (var v in variants)
            foreach (int b in batches)
                if (At(v, b) is { Roofline: { } roof } m)
                    md.AppendLine(
                        $"| {v.Name} | {b} | {string.Join(" | ", roof.Parts.Select(Part))} | {roof.Ms(mr):F2} | {m.MedianMs:F1} | "
                            + $"{m.MedianMs / roof.Ms(mr):F1}× |"
                    );
        }
        if (profile.Count > 0)
        {
            md.AppendLine()
                .AppendLine(
                    "**Where the time goes** — the feed-forward slots (block FFNs, MoE or memory layers) timed alone on the same batch, "
                        + "against their FLOPs at the measured matmul rate and their parameter bytes at the measured read bandwidth; "
                        + "overhead = slots − the larger floor (op dispatch, small matmuls, gathers/scatters, routing)"
                )
                .AppendLine();
            md.AppendLine(
                "| model | B | step ms | slots ms | FLOPs floor ms | traffic floor ms | overhead ms | rest of the step ms (attention, KV, head) |"
            );
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var p in profile)
                md.AppendLine(
                    $"| {p.Variant} | {p.Batch} | {p.StepMs:F1} | {p.SlotsMs:F1} | {p.FlopsFloorMs:F2} | {p.TrafficFloorMs:F2} | "
                        + $"{p.SlotsMs - Math.Max(p.FlopsFloorMs, p.TrafficFloorMs):F1} | {p.StepMs - p.SlotsMs:F1} |"
                );
        }
        string text = md.ToString();
        IO.AtomicFile.WriteAllText(Path.Combine(folder, "decode.md"), text);

        double[] xt = batches.Select(b => (double)b).ToArray();
        LogLogPlot.Save(
            Path.Combine(folder, "decode-time.png"),
            $"Decode step time (KV cache {s.KvLength}), matched family",
            "batch size B (sequences)",
            "ms per decode step (median)",
            variants
                .Select(v => new LogLogPlot.Series(v.Name, xt, batches.Select(b => At(v, b)?.MedianMs ?? double.NaN).ToArray()))
                .ToList(),
            xt
        );
        LogLogPlot.Save(
            Path.Combine(folder, "decode-bytes.png"),
            "Parameter bytes read per decode step (counted)",
            "batch size B (sequences)",
            "MB read per step",
            variants
                .Select(v => new LogLogPlot.Series(
                    v.Name,
                    xt,
                    batches.Select(b => At(v, b) is { } m ? m.BytesRead / 1e6 : double.NaN).ToArray()
                ))
                .ToList(),
            xt
        );
        return text;
    }

    /// <summary>The <c>bench scaling</c> report: scaling.md, scaling.csv, scaling.png. Returns the Markdown.</summary>
    public static string WriteScaling(
        string folder,
        string command,
        string machine,
        DecodeBenchSettings s,
        IReadOnlyList<DecodeMeasurement> ms,
        IReadOnlyList<string> skipped
    )
    {
        Directory.CreateDirectory(folder);
        WriteCsv(Path.Combine(folder, "scaling.csv"), ms);
        int batch = ms.Count > 0 ? ms[0].Batch : s.Batches[0];
        var archs = ms.Select(m => m.Variant.Arch).Distinct().ToList();
        var scales = ms.Select(m => m.Variant.Scale).Distinct().OrderBy(x => x).ToList();
        DecodeMeasurement? At(string a, int k) => ms.FirstOrDefault(m => m.Variant.Arch == a && m.Variant.Scale == k);

        var md = new StringBuilder();
        md.AppendLine("# Scaling benchmark: decode step time as the sparse parameters grow at fixed activated compute").AppendLine();
        md.AppendLine($"Command: `{command}`  ").AppendLine($"Machine: {machine}.  ");
        md.AppendLine(
                $"Batch {batch}, KV cache {s.KvLength}; median of {s.Repetitions} steps after {s.Warmup} warm-up, every model interleaved in one process. "
                    + "Scale ×k: MoE has k× the experts, memory layers k× the value rows (n_keys × √k); everything else stays as in the matched family, "
                    + "so the activated parameters per token are fixed. The compute that grows with the table (a router over more experts, product keys "
                    + "over more keys) shows in the FLOPs column."
            )
            .AppendLine();
        md.AppendLine(
            "| model | scale | total params | FLOPs/token | step ms (median; min–max) | vs its ×1 | MB read per step (counted) |"
        );
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var a in archs)
        foreach (var k in scales)
            if (At(a, k) is { } m)
            {
                var baseline = At(a, scales[0]);
                md.AppendLine(
                    $"| {a} | ×{k} | {Format.Count(m.TotalParameters)} | {Format.Count(m.FlopsPerToken)} | {m.MedianMs:F1} ({m.MinMs:F1}–{m.MaxMs:F1}) | "
                        + $"{(baseline is null ? "" : $"{m.MedianMs / baseline.MedianMs:F2}×")} | {m.BytesRead / 1e6:F0} |"
                );
            }
        foreach (var line in skipped)
            md.AppendLine($"| {line} | | | | skipped | | |");
        string text = md.ToString();
        IO.AtomicFile.WriteAllText(Path.Combine(folder, "scaling.md"), text);

        double[] xt = scales.Select(k => (double)k).ToArray();
        LogLogPlot.Save(
            Path.Combine(folder, "scaling.png"),
            $"Decode step time vs sparse parameters (batch {batch}, KV {s.KvLength}, fixed activated parameters)",
            "sparse parameters (× the matched family's)",
            "ms per decode step (median)",
            archs
                .Select(a => new LogLogPlot.Series(
                    a == "dense" ? "dense (no sparse part)" : a,
                    xt,
                    scales.Select(k => (a == "dense" ? At(a, 1) : At(a, k))?.MedianMs ?? double.NaN).ToArray()
                ))
                .ToList(),
            xt,
            xTickLabel: x => $"×{x:G4}"
        );
        return text;
    }

    static string F(double v) => v.ToString("F3", Inv);
}
