using System.Diagnostics;
using UltraMem.Architectures;
using UltraMem.Layers;
using UltraMem.Model;
using UltraMem.Reporting;
using UltraMem.Training;
using static TorchSharp.torch;

namespace UltraMem.Benchmarks;

/// <summary>
/// Decode-step cost of whole models (docs/results.md §1–2; the papers' inference-cost argument, arXiv:2411.12364): one token for each of B
/// sequences whose KV cache already holds
/// <see cref="DecodeBenchSettings.KvLength"/> positions, for every variant and batch size. All variants are built in one process and
/// measured interleaved — each repetition runs every variant once, in rotating order — so their ratios are meaningful on a
/// noisy machine. Variants with the same backbone share one KV allocation (its contents do not change the cost of a step).
/// After the step the benchmark counts the parameters it read (<see cref="ParameterReads"/>) and compares them with the cost model.
/// </summary>
public static class DecodeBenchmark
{
    /// <param name="rates">The machine's rates, for the floors of the slot profile; required when <see
    /// cref="DecodeBenchSettings.ProfileBatches"/> is not empty.</param>
    public static DecodeRun Run(
        IReadOnlyList<DecodeVariant> variants,
        DecodeBenchSettings s,
        Action<string>? log = null,
        MachineRates? rates = null
    )
    {
        log ??= Console.Error.WriteLine;
        if (s.ProfileBatches.Count > 0 && rates is null)
            throw new ArgumentException("profiling the slots needs the machine's rates", nameof(rates));
        if (variants.Count == 0)
            throw new UltraMemException("nothing to measure: no variants");
        if (s.Batches.Count == 0 || s.Batches.Any(b => b < 1))
            throw new UltraMemException("batch sizes must be >= 1");
        if (s.KvLength < 0)
            throw new UltraMemException("the KV length must be >= 0");
        if (s.Repetitions < 1 || s.Warmup < 0)
            throw new UltraMemException("repetitions must be >= 1 and warm-up >= 0");
        set_num_threads(s.Threads ?? Environment.ProcessorCount);
        using var noGrad = no_grad();

        var models = new List<TransformerLM>();
        var caches = new Dictionary<(int, int, int), AttentionCache[]>(); // one KV allocation per backbone
        try
        {
            var clock = Stopwatch.StartNew();
            foreach (var v in variants)
            {
                manual_seed((long)s.Seed);
                var config = v.Config with { MaxSeqLen = Math.Max(v.Config.MaxSeqLen, s.KvLength + 1), Dropout = 0 };
                var model = new TransformerLM(config);
                model.eval();
                foreach (var p in model.parameters())
                    p.requires_grad = false;
                foreach (var slot in model.Slots())
                    slot.TrackUsage = false;
                models.Add(model);
                log(
                    $"  built {v.Name}: {Format.Count(model.parameters().Sum(p => p.numel()))} parameters ({clock.Elapsed.TotalSeconds:F0} s)"
                );
            }
            int maxBatch = s.Batches.Max();
            foreach (var m in models)
            {
                var c = m.Config;
                if (!caches.ContainsKey(Backbone(c)))
                    caches[Backbone(c)] = Enumerable
                        .Range(0, c.NLayers)
                        .Select(_ => new AttentionCache(maxBatch, c.NHeads, s.KvLength + 1, c.HeadDim, ScalarType.Float32, CPU))
                        .ToArray();
            }

            var results = new List<DecodeMeasurement>();
            long totalSteps = (long)s.Batches.Count * (s.Warmup + s.Repetitions) * variants.Count,
                done = 0;
            using var bar = new ProgressBar("decode steps", totalSteps);
            var gen = new TorchSharp.torch.Generator(s.Seed);
            foreach (int batch in s.Batches)
            {
                var times = variants.Select(_ => new List<double>()).ToArray();
                var decode = models
                    .Select(m => new DecodeCache(m, caches[Backbone(m.Config)].Select(a => a.Slice(batch)).ToList(), s.KvLength))
                    .ToArray();
                try
                {
                    GC.Collect();
                    for (int rep = 0; rep < s.Warmup + s.Repetitions; rep++)
                    {
                        using var tokens = randint(0, models[0].Config.VocabSize, new long[] { batch, 1 }, generator: gen);
                        for (int k = 0; k < models.Count; k++)
                        {
                            int i = (k + rep) % models.Count; // rotate the order so no variant always runs first
                            decode[i].Rewind(s.KvLength);
                            var sw = Stopwatch.StartNew();
                            using (var logits = models[i].Forward(tokens, decode[i], lastPositionOnly: true)) { }
                            sw.Stop();
                            if (rep >= s.Warmup)
                                times[i].Add(sw.Elapsed.TotalMilliseconds);
                            bar.Report(++done, $"batch {batch}, {variants[i].Name}");
                        }
                    }
                }
                finally
                {
                    foreach (var d in decode)
                    {
                        foreach (var a in d.Attention)
                            a.Dispose();
                        d.Dispose();
                    }
                }
                for (int i = 0; i < models.Count; i++)
                {
                    var reads = ParameterReads.Of(models[i]);
                    var c = models[i].Config;
                    results.Add(
                        new DecodeMeasurement
                        {
                            Variant = variants[i],
                            Batch = batch,
                            StepMs = times[i].ToArray(),
                            TotalParameters = reads.TotalParameters,
                            DenseParameters = reads.DenseParameters,
                            FlopsPerToken = ModelAccounting.Total(variants[i].Config).FlopsPerToken,
                            ParametersRead = reads.ParametersRead,
                            CostModelSpec = reads.DenseParameters + SparseCost(c, batch, uniform: false),
                            CostModelUniform = reads.DenseParameters + SparseCost(c, batch, uniform: true),
                            KvBytes = KvCacheBytes(c, batch, s.KvLength),
                            Roofline = DecodeRoofline.Of(models[i], batch, s.KvLength),
                        }
                    );
                }
            }
            bar.Finish();

            var profile = new List<SlotProfile>();
            foreach (int batch in s.ProfileBatches)
            {
                log($"timing the feed-forward slots alone at batch {batch}...");
                for (int i = 0; i < models.Count; i++)
                {
                    double step = results.FirstOrDefault(m => m.Variant == variants[i] && m.Batch == batch)?.MedianMs ?? double.NaN;
                    profile.Add(ProfileSlots(variants[i].Name, models[i], step, batch, rates!, s.Repetitions));
                }
            }
            return new DecodeRun(results, profile);
        }
        finally
        {
            foreach (var set in caches.Values)
            foreach (var a in set)
                a.Dispose();
            foreach (var m in models)
                m.Dispose();
        }
    }

    /// <summary>The attention shape models must share to share one KV allocation.</summary>
    static (int, int, int) Backbone(ModelConfig c) => (c.NLayers, c.NHeads, c.HeadDim);

    /// <summary>
    /// Times every feed-forward slot of <paramref name="model"/> alone on random inputs of <paramref name="batch"/> tokens (median of
    /// <paramref name="repetitions"/> after one warm-up), with the FLOPs and traffic floors at the machine's <paramref name="rates"/>.
    /// </summary>
    static SlotProfile ProfileSlots(string name, TransformerLM model, double stepMs, int batch, MachineRates rates, int repetitions)
    {
        using var x = randn(batch, 1, model.Config.DModel);
        double ms = 0,
            flops = 0,
            bytes = 0;
        foreach (var slot in model.Slots())
        {
            var times = new List<double>();
            for (int r = 0; r < repetitions + 1; r++)
            {
                var sw = Stopwatch.StartNew();
                using (var y = slot.forward(x)) { }
                if (r > 0)
                    times.Add(sw.Elapsed.TotalMilliseconds);
            }
            ms += Stats.Median(times);
            flops += (double)slot.Count().FlopsPerToken * batch;
            bytes += DecodeRoofline.SlotBytes(slot);
        }
        return new SlotProfile(
            name,
            batch,
            stepMs,
            ms,
            flops / (rates.MatmulGflops * 1e9) * 1e3,
            bytes / (rates.ReadGbPerS * 1e9) * 1e3,
            model.Slots().Count()
        );
    }

    /// <summary>Matmul throughput of this machine (GFLOP/s): the best of several [512 × 1024] × [1024 × 1024] products.</summary>
    public static double MeasureMatmulGflops(int repetitions = 5)
    {
        using var noGrad = no_grad();
        using var a = randn(512, 1024);
        using var w = randn(1024, 1024);
        double best = double.PositiveInfinity;
        for (int i = 0; i < repetitions + 1; i++)
        {
            var sw = Stopwatch.StartNew();
            using (var y = nn.functional.linear(a, w)) { }
            if (i > 0)
                best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return 2.0 * 512 * 1024 * 1024 / best / 1e9;
    }

    /// <summary>The members <paramref name="archs"/> of <paramref name="preset"/>'s matched family (<see
    /// cref="Families.Matched(ModelConfig, string)"/>).</summary>
    public static List<DecodeVariant> FamilyVariants(ModelConfig preset, IReadOnlyList<string> archs)
    {
        var targets = Families.Targets(preset);
        return archs.Select(a => new DecodeVariant(a, a, 1, Families.Matched(preset, a, targets))).ToList();
    }

    /// <summary>
    /// The family members <paramref name="archs"/> with their sparse parameters multiplied by each of <paramref name="scales"/>
    /// (MoE: experts × k; memory and PEER layers: value rows × k, i.e. n_keys × √k), everything else as in the matched family:
    /// the activated parameters per token (top-k experts, top-m rows, the dense weights) stay fixed, as in the papers' scaling
    /// experiments. What grows with the tables besides memory is a little compute: a router over k× the experts, product keys
    /// over √k× the keys — reported as FLOPs/token. <c>dense</c> has no sparse part and appears once, at scale 1.
    /// </summary>
    public static List<DecodeVariant> ScalingVariants(ModelConfig preset, IReadOnlyList<string> archs, IReadOnlyList<int> scales)
    {
        var targets = Families.Targets(preset);
        var list = new List<DecodeVariant>();
        foreach (var a in archs)
        {
            var c1 = Families.Matched(preset, a, targets);
            if (a == "dense")
            {
                list.Add(new DecodeVariant("dense", a, 1, c1));
                continue;
            }
            foreach (int k in scales)
            {
                if (k < 1)
                    throw new UltraMemException($"scale must be >= 1 (got {k})");
                ModelConfig c = c1;
                if (k > 1 && c1.MemoryLayers.Any(p => p.Moe is not null))
                    c = FamilyMatcher.WithMoe(c1, m => m with { Experts = m.Experts * k });
                else if (k > 1)
                {
                    int n = c1.MemoryLayers.Select(p => p.Memory?.NKeys ?? p.Peer?.NKeys ?? 0).Max();
                    c = FamilyMatcher.WithTableSize(c1, (int)Math.Round(n * Math.Sqrt(k)));
                }
                list.Add(new DecodeVariant($"{a} x{k}", a, k, c.Validate()));
            }
        }
        return list;
    }

    /// <summary>Resident bytes the benchmark needs for these variants: parameters (float32) and one shared KV cache per backbone at the
    /// largest batch.</summary>
    public static long NeededBytes(IReadOnlyList<DecodeVariant> variants, DecodeBenchSettings s)
    {
        long parameters = variants.Sum(v => ModelAccounting.Total(v.Config).Total) * 4;
        long kv = variants.Select(v => v.Config).DistinctBy(Backbone).Sum(c => KvCacheBytes(c, s.Batches.Max(), s.KvLength));
        return parameters + kv;
    }

    /// <summary>Float32 keys and values of every block for <paramref name="batch"/> sequences of <paramref name="kvLength"/> + 1 positions:
    /// B·(L_kv+1)·D·2·layers·4.</summary>
    internal static long KvCacheBytes(ModelConfig c, int batch, int kvLength) => 2L * c.NLayers * batch * (kvLength + 1) * c.DModel * 4;

    /// <summary>
    /// Sparse-table parameters a decode step of <paramref name="batch"/> tokens reads, by the papers' cost model (docs/results.md)
    /// (<paramref name="uniform"/> false: min(k·B, N) rows) or by its expectation when each token picks its rows uniformly at
    /// random (true: N·(1 − (1 − k/N)^B) for k rows per token out of N).
    /// </summary>
    public static long SparseCost(ModelConfig c, int batch, bool uniform)
    {
        var resolved = c.Resolve();
        var context = resolved.ForSlots();
        double total = 0;
        foreach (var p in resolved.MemoryLayers)
            total += SlotKinds.Get(p.Kind).SparseParametersRead(p.Settings!, context, batch, uniform);
        return (long)Math.Round(total);
    }

    /// <summary>
    /// Read bandwidth of this machine for large tensors (GB/s): the best of several sums over a buffer much larger than the
    /// caches. Bytes read ÷ this = the time a step needs just to stream its parameters, the floor the results are compared with.
    /// </summary>
    public static double MeasureReadBandwidth(long bytes = 512L << 20, int repetitions = 5)
    {
        using var noGrad = no_grad();
        using var buffer = ones(bytes / 4, dtype: ScalarType.Float32);
        double best = double.PositiveInfinity;
        for (int i = 0; i < repetitions + 1; i++)
        {
            var sw = Stopwatch.StartNew();
            using (var sum = buffer.sum())
                sum.item<float>();
            if (i > 0)
                best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return bytes / best / 1e9;
    }
}
