using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using UltraMem.Benchmarks;
using UltraMem.Training;

namespace UltraMem.Cli.Commands;

static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks whose figures go into files (tables, CSV, PNG).");
        bench.Subcommands.Add(Layer());
        bench.Subcommands.Add(Decode());
        bench.Subcommands.Add(Scaling());
        return bench;
    }

    const int VocabSize = 8192; // the default tokenizer's vocabulary (train, demo)

    static Command Decode()
    {
        var preset = Cli.Opt("--preset", "Family preset: tiny, small or base.", "small", true);
        var archs = Cli.Opt(
            "--archs",
            "Family members (dense, moe, pkm, memory_plus, peer, ultramem, ultramemv2) or study variants (ultramem+both_ends, …; docs/results.md) to measure, comma-separated.",
            "dense,moe,pkm,ultramem,ultramemv2",
            true
        );
        var batches = Cli.Opt("--batches", "Batch sizes (sequences decoded together), comma-separated.", "1,4,16,64,256,1024", true);
        var profileBatches = Cli.Opt(
            "--profile-batches",
            "Batch sizes at which each model's feed-forward slots are also timed alone (empty: none).",
            "1,64,256",
            true
        );
        var common = new DecodeOptions();
        var outDir = Cli.Opt("--out", "Folder for decode.md, decode.csv, decode-time.png and decode-bytes.png.", "docs/bench", true);
        var cmd = new Command(
            "decode",
            "Time of one decode step of whole models of a matched family (equal FLOPs/token; sparse members at equal total parameters) "
                + "for several batch sizes with a filled KV cache, and the parameter bytes each step read (counted) against the papers' cost model (docs/results.md). "
                + "All models are measured interleaved in one process. About 2 min on 2 cores with the defaults (docs/results.md)."
        )
        {
            preset,
            archs,
            batches,
            profileBatches,
            outDir,
        };
        common.AddTo(cmd);
        var sets = Cli.SetOption.Create(takesTrain: false, "the preset's dense model before the family is sized to it");
        sets.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var settings = common.Settings(r, ParseInts(r.GetValue(batches)!, "--batches")) with
            {
                ProfileBatches = string.IsNullOrWhiteSpace(r.GetValue(profileBatches))
                    ? new List<int>()
                    : ParseInts(r.GetValue(profileBatches)!, "--profile-batches"),
            };
            var archList = ParseArchs(r.GetValue(archs)!);
            var baseConfig = sets.ApplyModel(r, Model.ModelConfig.Preset(r.GetValue(preset)!, VocabSize));
            var variants = DecodeBenchmark.FamilyVariants(baseConfig, archList);
            long need = DecodeBenchmark.NeededBytes(variants, settings);
            if (need > 0.85 * AvailableBytes())
                throw new UltraMemException(
                    $"bench decode needs about {need / 1e9:F1} GB (models + KV cache at batch {settings.Batches.Max()}), "
                        + $"{AvailableBytes() / 1e9:F1} GB available: use smaller --batches, --kv or --preset"
                );
            var (otherUse, rates) = MeasureMachine();
            Console.Error.WriteLine($"building {variants.Count} models ({r.GetValue(preset)} family), about {need / 1e9:F1} GB...");
            var run = DecodeBenchmark.Run(variants, settings, rates: rates);
            string md = DecodeReport.WriteDecode(
                r.GetValue(outDir)!,
                CommandLineText(r, "decode"),
                DecodeReport.Machine(settings.Threads, rates, otherUse),
                settings,
                run.Steps,
                run.Profile,
                rates
            );
            Console.WriteLine(md);
            Console.WriteLine($"wrote {Path.Combine(r.GetValue(outDir)!, "decode.md")}, decode.csv, decode-time.png, decode-bytes.png");
            return 0;
        });
        return cmd;
    }

    static Command Scaling()
    {
        var preset = Cli.Opt("--preset", "Family preset: tiny, small or base.", "tiny", true);
        var archs = Cli.Opt(
            "--archs",
            "Family members, comma-separated; dense is measured once (it has no sparse part).",
            "dense,moe,ultramem,ultramemv2",
            true
        );
        var scales = Cli.Opt("--scales", "Sparse-parameter multiples, comma-separated.", "1,4,16,64", true);
        var batch = Cli.Opt("--batch", "Batch size (sequences decoded together).", 256, true);
        var common = new DecodeOptions();
        var outDir = Cli.Opt("--out", "Folder for scaling.md, scaling.csv and scaling.png.", "docs/bench", true);
        var cmd = new Command(
            "scaling",
            "Decode step time at fixed activated compute while the sparse parameters grow (MoE: more experts; memory layers: more value rows). "
                + "Scales that do not fit in memory are skipped and listed. About 1.5 min and 10 GB of memory on 2 cores with the defaults (docs/results.md)."
        )
        {
            preset,
            archs,
            scales,
            batch,
            outDir,
        };
        common.AddTo(cmd);
        var sets = Cli.SetOption.Create(takesTrain: false, "the preset's dense model before the family is sized to it");
        sets.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var settings = common.Settings(r, new[] { r.GetValue(batch) });
            var archList = ParseArchs(r.GetValue(archs)!);
            var scaleList = ParseInts(r.GetValue(scales)!, "--scales");
            var baseConfig = sets.ApplyModel(r, Model.ModelConfig.Preset(r.GetValue(preset)!, VocabSize));
            var variants = DecodeBenchmark.ScalingVariants(baseConfig, archList, scaleList);
            // drop the largest scales until the rest fits
            var skipped = new List<string>();
            while (variants.Count > 0 && DecodeBenchmark.NeededBytes(variants, settings) > 0.85 * AvailableBytes())
            {
                int top = variants.Max(v => v.Scale);
                foreach (var v in variants.Where(v => v.Scale == top).ToList())
                {
                    skipped.Add(
                        $"{v.Name} ({Training.Format.Count(Model.ModelAccounting.Total(v.Config).Total)} parameters: does not fit in {AvailableBytes() / 1e9:F1} GB with the rest)"
                    );
                    variants.Remove(v);
                }
            }
            foreach (var line in skipped)
                Console.Error.WriteLine($"skipped {line}");
            var (otherUse, rates) = MeasureMachine();
            Console.Error.WriteLine(
                $"building {variants.Count} models ({r.GetValue(preset)} family), about {DecodeBenchmark.NeededBytes(variants, settings) / 1e9:F1} GB..."
            );
            var run = DecodeBenchmark.Run(variants, settings);
            string md = DecodeReport.WriteScaling(
                r.GetValue(outDir)!,
                CommandLineText(r, "scaling"),
                DecodeReport.Machine(settings.Threads, rates, otherUse),
                settings,
                run.Steps,
                skipped
            );
            Console.WriteLine(md);
            Console.WriteLine($"wrote {Path.Combine(r.GetValue(outDir)!, "scaling.md")}, scaling.csv, scaling.png");
            return 0;
        });
        return cmd;
    }

    /// <summary>Other processes' CPU use (warned about when high), then this machine's read bandwidth and matmul rate.</summary>
    static (double? OtherUse, MachineRates Rates) MeasureMachine()
    {
        double? otherUse = Platform.MachineLoad.OtherCpuUse();
        if (Platform.MachineLoad.BusyWarning(otherUse) is { } busy)
            Console.Error.WriteLine(busy);
        Console.Error.WriteLine("measuring read bandwidth and matmul rate...");
        return (otherUse, new MachineRates(DecodeBenchmark.MeasureMatmulGflops(), DecodeBenchmark.MeasureReadBandwidth()));
    }

    /// <summary>Options shared by bench decode and bench scaling.</summary>
    sealed class DecodeOptions
    {
        readonly Option<int> _kv = Cli.Opt("--kv", "Tokens already in each sequence's KV cache.", 512, true);
        readonly Option<int> _warmup = Cli.Opt("--warmup", "Warm-up steps per model and batch size.", 2, true);
        readonly Option<int> _reps = Cli.Opt("--reps", "Measured steps per model and batch size (median and spread reported).", 7, true);
        readonly Option<int?> _threads = Cli.Opt<int?>("--threads", "Intra-op threads (default: all cores).");
        readonly Option<ulong> _seed = Cli.Opt("--seed", "Seed for weights and token ids.", 1UL, true);

        public void AddTo(Command c)
        {
            c.Options.Add(_kv);
            c.Options.Add(_warmup);
            c.Options.Add(_reps);
            c.Options.Add(_threads);
            c.Options.Add(_seed);
        }

        public DecodeBenchSettings Settings(System.CommandLine.ParseResult r, IReadOnlyList<int> batches)
        {
            if (batches.Any(b => b < 1))
                throw new UltraMemException("batch sizes must be >= 1");
            if (r.GetValue(_kv) < 0)
                throw new UltraMemException("--kv must be >= 0");
            if (r.GetValue(_reps) < 1 || r.GetValue(_warmup) < 0)
                throw new UltraMemException("--reps must be >= 1 and --warmup >= 0");
            return new DecodeBenchSettings
            {
                Batches = batches,
                KvLength = r.GetValue(_kv),
                Warmup = r.GetValue(_warmup),
                Repetitions = r.GetValue(_reps),
                Threads = r.GetValue(_threads),
                Seed = r.GetValue(_seed),
            };
        }
    }

    static List<int> ParseInts(string s, string option) =>
        Cli.ParseList(s, option)
            .Select(v =>
                int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int x)
                    ? x
                    : throw new UltraMemException($"{option}: '{v}' is not an integer")
            )
            .ToList();

    static List<string> ParseArchs(string s)
    {
        var list = Cli.ParseList(s, "--archs").Distinct().ToList();
        var known = Architectures.Families.Members.Concat(Architectures.Families.Variants.Keys).ToList();
        foreach (var a in list)
            if (!known.Contains(a))
                throw new UltraMemException($"--archs: unknown family member or variant '{a}' (known: {string.Join(", ", known)})");
        return list;
    }

    static string CommandLineText(System.CommandLine.ParseResult r, string sub) =>
        $"./ultramem bench {sub}" + string.Concat(r.Tokens.Select(t => " " + t.Value).SkipWhile(t => t is " bench" || t == " " + sub));

    static Command Layer()
    {
        var rows = Cli.Opt("--rows", "Value-table sizes (physical rows, perfect squares), comma-separated.", "1048576,4194304", true);
        var paths = Cli.Opt(
            "--paths",
            "Value-update paths to measure: dense (exact AdamW, dense gradient) and/or row_sparse.",
            "dense,row_sparse",
            true
        );
        var dModel = Cli.Opt("--d-model", "Model width D.", 512, true);
        var valueDim = Cli.Opt("--value-dim", "Value width Dv.", 256, true);
        var keyDim = Cli.Opt("--key-dim", "Key width Dk.", 128, true);
        var heads = Cli.Opt("--heads", "Memory heads H.", 2, true);
        var topM = Cli.Opt("--top-m", "Values selected per head m.", 32, true);
        var tokens = Cli.Opt("--tokens", "Tokens per step.", 4096, true);
        var steps = Cli.Opt("--steps", "Measured steps per case (after warm-up).", 6, true);
        var warmup = Cli.Opt("--warmup", "Warm-up steps per case.", 2, true);
        var threads = Cli.Opt<int?>("--threads", "Intra-op threads (default: all cores).");
        var outDir = Cli.Opt("--out", "Folder for layer.csv, layer.md and layer.png.", "docs/bench", true);
        var caseIndex = new Option<int?>("--case-index") { Hidden = true };
        var resultFile = new Option<string?>("--result") { Hidden = true };
        var cmd = new Command(
            "layer",
            "Forward+backward+AdamW throughput and memory of one UltraMem layer with a large value table (dense vs row-sparse "
                + "updates) against a SwiGLU FFN of equal activated FLOPs. Each case runs in its own process."
        )
        {
            rows,
            paths,
            dModel,
            valueDim,
            keyDim,
            heads,
            topM,
            tokens,
            steps,
            warmup,
            threads,
            outDir,
            caseIndex,
            resultFile,
        };
        cmd.SetAction(r =>
        {
            var settings = new LayerBenchSettings
            {
                DModel = r.GetValue(dModel),
                ValueDim = r.GetValue(valueDim),
                KeyDim = r.GetValue(keyDim),
                Heads = r.GetValue(heads),
                TopM = r.GetValue(topM),
                Tokens = r.GetValue(tokens),
                Steps = r.GetValue(steps),
                Warmup = r.GetValue(warmup),
                Threads = r.GetValue(threads),
                SeqLen = Math.Min(512, r.GetValue(tokens)),
            };
            if (settings.Steps < 1 || settings.Warmup < 0)
                throw new UltraMemException("--steps must be >= 1 and --warmup >= 0");
            var rowList = Cli.ParseList(r.GetValue(rows)!, "--rows").Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToList();
            var pathList = Cli.ParseList(r.GetValue(paths)!, "--paths").Select(p => Cli.ParseEnum<ValueUpdates>(p, "--paths")).ToList();
            foreach (var n in rowList)
                settings.Memory(n).Validate(settings.DModel, "bench memory layer");
            var cases = LayerBenchmark.StandardCases(settings, rowList, pathList);

            if (r.GetValue(caseIndex) is { } index) // child process: one case, result as JSON
            {
                var result = LayerBenchmark.RunCase(cases[index], settings, Console.Error.WriteLine);
                IO.AtomicFile.WriteAllText(
                    r.GetValue(resultFile) ?? throw new UltraMemException("--result is required with --case-index"),
                    LayerBenchmark.ToJson(result)
                );
                return 0;
            }

            string outFolder = r.GetValue(outDir)!;
            Directory.CreateDirectory(outFolder);
            var results = new List<LayerBenchResult>();
            for (int i = 0; i < cases.Count; i++)
            {
                var c = cases[i];
                Console.Error.WriteLine($"[{i + 1}/{cases.Count}] {c.Name}");
                if (NeededBytes(c, settings) is var need && need > 0.85 * AvailableBytes())
                {
                    results.Add(
                        new LayerBenchResult
                        {
                            Name = c.Name,
                            Kind = c.Kind,
                            Rows = c.Rows,
                            ValueUpdates = c.ValueUpdates,
                            Error = $"skipped: needs about {need / 1e9:F1} GB, {AvailableBytes() / 1e9:F1} GB available",
                        }
                    );
                    Console.Error.WriteLine($"  {results[^1].Error}");
                    continue;
                }
                results.Add(RunChild(i, c, r.Tokens.Select(t => t.Value).SkipWhile(t => t is "bench" or "layer").ToArray()));
            }
            WriteReports(outFolder, settings, results, CommandLineText(r, "layer"));
            return 0;
        });
        return cmd;
    }

    /// <summary>Rough resident bytes of a case: the table, plus gradient (dense path) and two Adam moments, plus temporaries.</summary>
    static double NeededBytes(LayerBenchCase c, LayerBenchSettings s)
    {
        if (c.Kind != "memory")
            return 0;
        double table = c.Rows * (double)s.ValueDim * 4;
        return table * (c.ValueUpdates == ValueUpdates.Dense ? 4.5 : 3.2);
    }

    static double AvailableBytes() => Platform.MachineMemory.AvailableBytes();

    static LayerBenchResult RunChild(int index, LayerBenchCase c, string[] parentArgs)
    {
        string resultPath = Path.Combine(Path.GetTempPath(), $"ultramem-bench-{Environment.ProcessId}-{index}.json");
        var psi = new ProcessStartInfo
        {
            RedirectStandardError = false,
            RedirectStandardOutput = false,
            UseShellExecute = false,
        };
        string host = Environment.ProcessPath!;
        psi.FileName = host;
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
            psi.ArgumentList.Add(typeof(BenchCommand).Assembly.Location);
        foreach (var a in new[] { "bench", "layer" }.Concat(parentArgs))
            psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("--case-index");
        psi.ArgumentList.Add(index.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add("--result");
        psi.ArgumentList.Add(resultPath);
        using var p = Process.Start(psi)!;
        p.WaitForExit();
        try
        {
            if (p.ExitCode == 0 && File.Exists(resultPath))
                return LayerBenchmark.FromJson(File.ReadAllText(resultPath));
            return new LayerBenchResult
            {
                Name = c.Name,
                Kind = c.Kind,
                Rows = c.Rows,
                ValueUpdates = c.ValueUpdates,
                Error = p.ExitCode == 137 ? "killed (out of memory?)" : $"failed with exit code {p.ExitCode}",
            };
        }
        finally
        {
            if (File.Exists(resultPath))
                File.Delete(resultPath);
        }
    }

    static void WriteReports(string folder, LayerBenchSettings s, List<LayerBenchResult> results, string command)
    {
        static string Gb(long b) => (b / 1e9).ToString("F2", CultureInfo.InvariantCulture);
        var csv = new StringBuilder(
            "case,kind,rows,value_updates,total_params,activated_params,flops_per_token,tokens,step_ms_median,step_ms_min,step_ms_max,forward_ms,backward_ms,optimizer_ms,tokens_per_s,setup_rss_gb,training_state_gb,step_peak_gb,error\n"
        );
        foreach (var x in results)
            csv.AppendLine(
                string.Join(
                    ",",
                    new object?[]
                    {
                        $"\"{x.Name}\"",
                        x.Kind,
                        x.Rows,
                        IO.JsonEnum.Name(x.ValueUpdates),
                        x.TotalParams,
                        x.ActivatedParams,
                        x.FlopsPerToken,
                        x.Tokens,
                        F(x.StepMsMedian),
                        F(x.StepMsMin),
                        F(x.StepMsMax),
                        F(x.ForwardMs),
                        F(x.BackwardMs),
                        F(x.OptimizerMs),
                        F(x.TokensPerSecond),
                        Gb(x.SetupRssBytes),
                        Gb(x.TrainingStateBytes),
                        Gb(x.StepPeakBytes),
                        x.Error is null ? "" : $"\"{x.Error}\"",
                    }
                )
            );
        IO.AtomicFile.WriteAllText(Path.Combine(folder, "layer.csv"), csv.ToString());

        var md = new StringBuilder();
        md.AppendLine("# Layer benchmark: one UltraMem layer vs a SwiGLU FFN of equal activated FLOPs").AppendLine();
        md.AppendLine($"Command: `{command}`  ")
            .AppendLine(
                $"Machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, "
                    + $"TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version}, {s.Threads?.ToString() ?? "all"} threads; {DateTime.UtcNow:yyyy-MM-dd}.  "
            );
        md.AppendLine(
                $"Layer: D = {s.DModel}, Dv = {s.ValueDim}, Dk = {s.KeyDim}, H = {s.Heads}, m = {s.TopM}, the `ultramem` rung (TDQKR r = 2, h = 2, IVE E = 4, qk-norm, shared query); "
                    + $"{s.Tokens} tokens per step; median of {s.Steps} steps after {s.Warmup} warm-up; each case in its own process."
            )
            .AppendLine();
        md.AppendLine(
            "| case | total params | activated/token | FLOPs/token | step ms (median, min–max) | fwd / bwd / optimizer ms | tokens/s | training state GB | step peak GB |"
        );
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var x in results)
            md.AppendLine(
                x.Error is not null
                    ? $"| {x.Name} | | | | {x.Error} | | | | |"
                    : $"| {x.Name} | {Format.Count(x.TotalParams)} | {Format.Count(x.ActivatedParams)} | {Format.Count(x.FlopsPerToken)} | {x.StepMsMedian:F0} ({x.StepMsMin:F0}–{x.StepMsMax:F0}) | "
                        + $"{x.ForwardMs:F0} / {x.BackwardMs:F0} / {x.OptimizerMs:F0} | {x.TokensPerSecond:N0} | {Gb(x.TrainingStateBytes)} | {Gb(x.StepPeakBytes)} |"
            );
        md.AppendLine()
            .AppendLine(
                "*Training state*: memory kept across steps after warm-up (gradients, Adam moments). *Step peak*: extra resident memory at the peak of a measured step over that level (temporaries, a dense gradient being materialised)."
            );
        IO.AtomicFile.WriteAllText(Path.Combine(folder, "layer.md"), md.ToString());

        var ok = results.Where(x => x.Error is null).ToList();
        var plt = new ScottPlot.Plot();
        var bars = ok.Select(
                (x, i) =>
                    new ScottPlot.Bar
                    {
                        Position = i,
                        Value = x.TokensPerSecond,
                        FillColor =
                            x.Kind == "swiglu" ? ScottPlot.Colors.Gray
                            : x.ValueUpdates == ValueUpdates.Dense ? ScottPlot.Colors.SteelBlue
                            : ScottPlot.Colors.OrangeRed,
                    }
            )
            .ToList();
        plt.Add.Bars(bars);
        plt.Axes.Bottom.SetTicks(
            Enumerable.Range(0, ok.Count).Select(i => (double)i).ToArray(),
            ok.Select(x => x.Name.Replace(" rows, ", "\n")).ToArray()
        );
        plt.Axes.Margins(bottom: 0);
        plt.YLabel("training tokens/s (fwd + bwd + AdamW)");
        plt.Title($"One layer, {s.Tokens} tokens/step: UltraMem vs SwiGLU of equal FLOPs");
        Reporting.PngFile.Save(plt, Path.Combine(folder, "layer.png"), 1000, 520);
        Console.WriteLine(md.ToString());
        Console.WriteLine($"wrote {Path.Combine(folder, "layer.csv")}, layer.md, layer.png");
    }

    static string F(double v) => v.ToString("F2", CultureInfo.InvariantCulture);
}
