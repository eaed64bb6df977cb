using System.Diagnostics;
using System.Text.Json;
using UltraMem.Layers;
using UltraMem.Layers.Memory;
using UltraMem.Reporting;
using UltraMem.Training;
using static TorchSharp.torch;

namespace UltraMem.Benchmarks;

/// <summary>
/// Forward + backward + optimizer throughput of one layer at a fixed number of tokens per step (docs/memory-layers.md, "Layer benchmark"):
/// an UltraMem layer with a large value table — exact dense path vs row-sparse path — against a dense SwiGLU FFN of
/// equal activated FLOPs. Each case runs in its own process so its memory figures are its own.
/// </summary>
public static class LayerBenchmark
{
    public static LayerBenchResult RunCase(LayerBenchCase c, LayerBenchSettings s, Action<string>? log = null)
    {
        set_num_threads(s.Threads ?? Environment.ProcessorCount);
        manual_seed(0);
        if (s.Tokens % s.SeqLen != 0)
            throw new UltraMemException($"tokens ({s.Tokens}) must be a multiple of seq_len ({s.SeqLen})");
        FeedForwardSlot layer = c.Kind switch
        {
            "memory" => new MemoryLayer(s.DModel, s.Memory(c.Rows)),
            "swiglu" => new SwiGLU(s.DModel, c.FfnHidden),
            _ => throw new UltraMemException($"unknown bench case kind '{c.Kind}'"),
        };
        using var _layer = layer;
        if (layer is MemoryLayer mem)
        {
            mem.TrackUsage = false;
            mem.Values.Sparse.Enabled = c.ValueUpdates == ValueUpdates.RowSparse;
        }
        layer.train();
        var groups = ParameterGroups.Build(layer, 0.1);
        var rowSparse = layer.RowSparseTables().Where(t => t.Gradient.Enabled).ToList();
        using var optimizer = new AdamW(groups, rowSparse: rowSparse);
        var x = randn(s.Tokens / s.SeqLen, s.SeqLen, s.DModel).DetachFromDisposeScope();
        var probe = randn(s.Tokens / s.SeqLen, s.SeqLen, s.DModel).DetachFromDisposeScope();
        var count = layer.Count();
        long setupRss = ProcessMemory.Rss();
        var fwd = new List<double>();
        var bwd = new List<double>();
        var opt = new List<double>();
        var total = new List<double>();
        long afterWarmup = 0,
            peak = 0;
        for (int i = 0; i < s.Warmup + s.Steps; i++)
        {
            if (i == s.Warmup)
            {
                afterWarmup = ProcessMemory.Rss();
                ProcessMemory.ResetPeak();
            }
            var sw = Stopwatch.StartNew();
            using (var scope = NewDisposeScope())
            {
                var y = layer.forward(x);
                var loss = (y * probe).mean();
                double t1 = sw.Elapsed.TotalMilliseconds;
                loss.backward();
                double t2 = sw.Elapsed.TotalMilliseconds;
                optimizer.Step(1e-3);
                optimizer.ZeroGrad();
                layer.AfterOptimizerStep();
                double t3 = sw.Elapsed.TotalMilliseconds;
                if (i >= s.Warmup)
                {
                    fwd.Add(t1);
                    bwd.Add(t2 - t1);
                    opt.Add(t3 - t2);
                    total.Add(t3);
                }
            }
            log?.Invoke($"  {c.Name}: step {i + 1}/{s.Warmup + s.Steps} {sw.Elapsed.TotalMilliseconds:F0} ms");
        }
        peak = ProcessMemory.Peak();
        x.Dispose();
        probe.Dispose();
        double med = Stats.Median(total);
        return new LayerBenchResult
        {
            Name = c.Name,
            Kind = c.Kind,
            Rows = c.Rows,
            ValueUpdates = c.ValueUpdates,
            TotalParams = count.Total,
            ActivatedParams = count.Activated,
            FlopsPerToken = count.FlopsPerToken,
            Tokens = s.Tokens,
            StepMsMedian = med,
            StepMsMin = total.Min(),
            StepMsMax = total.Max(),
            ForwardMs = Stats.Median(fwd),
            BackwardMs = Stats.Median(bwd),
            OptimizerMs = Stats.Median(opt),
            TokensPerSecond = s.Tokens / (med / 1000),
            SetupRssBytes = setupRss,
            TrainingStateBytes = Math.Max(0, afterWarmup - setupRss),
            StepPeakBytes = Math.Max(0, peak - afterWarmup),
        };
    }

    /// <summary>The cases of the standard run: the FFN matched to the smallest table's activated FLOPs, then each table size × value-update
    /// path.</summary>
    public static List<LayerBenchCase> StandardCases(LayerBenchSettings s, IReadOnlyList<long> rows, IReadOnlyList<ValueUpdates> paths)
    {
        // SwiGLU FLOPs/token = 2·3·D·hidden; match the memory layer's at the smallest table
        long memFlops = MemoryLayer.Accounting(s.Memory(rows.Min()), s.DModel).FlopsPerToken;
        int hidden = (int)Math.Max(1, Math.Round(memFlops / (6.0 * s.DModel)));
        var cases = new List<LayerBenchCase> { new("swiglu (matched FLOPs)", "swiglu", 0, ValueUpdates.Dense, hidden) };
        foreach (long r in rows)
        foreach (var p in paths)
            cases.Add(new LayerBenchCase($"ultramem {Format.Count(r)} rows, {IO.JsonEnum.Name(p)}", "memory", r, p, 0));
        return cases;
    }

    public static string ToJson(LayerBenchResult r) => JsonSerializer.Serialize(r, Model.ModelConfig.Json);

    public static LayerBenchResult FromJson(string json) => JsonSerializer.Deserialize<LayerBenchResult>(json, Model.ModelConfig.Json)!;
}
