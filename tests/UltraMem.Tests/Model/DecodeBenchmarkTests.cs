using UltraMem.Architectures;
using UltraMem.Benchmarks;
using UltraMem.Layers;
using UltraMem.Layers.Memory;
using UltraMem.Layers.Moe;
using UltraMem.Layers.Peer;
using UltraMem.Model;
using UltraMem.Reporting;
using static TorchSharp.torch;

namespace UltraMem.Tests.Model;

/// <summary>
/// The decode benchmark's parts: the counted parameter reads against an independent oracle (a parameter row was read iff it
/// got a gradient), the cost model, shared KV buffers, and the scaling variants.
/// </summary>
public class DecodeBenchmarkTests
{
    static readonly MemoryConfig Ultra = Memory.MemoryModelTests.UltraSmall with { QueryConv = false, ValueLrMultiplier = 1 };

    static readonly MemoryConfig V2 = Ultra with { PreValueDim = 8, SingleProjector = true, QueryPerRank = true, Init = InitScheme.V2 };

    static SlotPlacement Slot(string kind, string at) => SlotPlacement.Parse(at, kind);

    /// <summary>Rows of <paramref name="weight"/> whose gradient is not all zero: the rows the forward pass read.</summary>
    static long RowsWithGradient(Tensor weight) => weight.grad!.abs().sum(1).gt(0).sum().item<long>();

    static (TransformerLM Model, Tensor Tokens) Run(ModelConfig config, long batch, long t = 1)
    {
        manual_seed(3);
        var model = new TransformerLM(config);
        model.eval();
        var tokens = randint(0, config.VocabSize, new long[] { batch, t });
        model.forward(tokens).sum().backward();
        return (model, tokens);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void CountedValueRowsAreTheRowsThatGotAGradient(int batch)
    {
        var config = TestData.TinyModel(4, Slot("ultramem", "1") with { Memory = Ultra }, Slot("ultramem", "2") with { Memory = V2 });
        var (model, _) = Run(config, batch, 3);
        using (model)
        {
            var reads = ParameterReads.Of(model);
            for (int j = 0; j < 2; j++)
            {
                var layer = (MemoryLayer)model.memory_layers[j];
                var values = reads.Tables.Single(t => t.Table == $"memory_layers.{j}.values");
                Assert.Equal(RowsWithGradient(layer.values!.weight), values.RowsRead);
                Assert.Equal(layer.values.Rows, values.TableRows);
                Assert.Equal(16, values.RowParameters);
                Assert.InRange(values.RowsRead, 1, Math.Min(values.TableRows, batch * 3L * 16));
                if (j == 1)
                    Assert.Equal(
                        RowsWithGradient(layer.pre_values!.weight),
                        reads.Tables.Single(t => t.Table == "memory_layers.1.pre_values").RowsRead
                    );
            }
            long tables = model.memory_layers.Cast<MemoryLayer>().Sum(l => l.values!.weight.numel() + (l.pre_values?.weight.numel() ?? 0));
            Assert.Equal(model.parameters().Sum(p => p.numel()), reads.TotalParameters);
            Assert.Equal(tables, reads.SparseParameters);
            Assert.Equal(reads.TotalParameters - tables + reads.Tables.Sum(t => t.RowsRead * t.RowParameters), reads.ParametersRead);
        }
    }

    [Fact]
    public void TheRooflineAddsEachComponentsLargerFloorOnHandNumbers()
    {
        // dense model, D = 32, 2 blocks, FFN 96, V = 97, tied: every count below by hand
        var config = TestData.TinyModel(2) with
        {
            FfnHidden = 96,
        };
        var (model, _) = Run(config, 3);
        using (model)
        {
            var roof = DecodeRoofline.Of(model, batch: 3, kvLength: 10);
            var attention = roof.Parts.Single(p => p.Component == DecodeRoofline.Attention);
            Assert.Equal(3.0 * 2 * (8 * 32 * 32 + 4 * 32 * 11), attention.Flops);
            Assert.Equal(4.0 * 2 * (4 * 32 * 32 + 64) + 4.0 * 2 * 3 * 2 * 11 * 32, attention.Bytes);
            var slots = roof.Parts.Single(p => p.Component == DecodeRoofline.Slots);
            Assert.Equal(3.0 * 2 * 2 * 3 * 32 * 96, slots.Flops); // two SwiGLUs of 3·D·F weights
            Assert.Equal(4.0 * 2 * 3 * 32 * 96, slots.Bytes);
            var head = roof.Parts.Single(p => p.Component == DecodeRoofline.Head);
            Assert.Equal(3.0 * 2 * 97 * 32, head.Flops);
            Assert.Equal(4.0 * (97 * 32 + 32), head.Bytes);
            // rates at which attention is bound by bytes and the head by FLOPs: each part counts its larger floor
            var rates = new MachineRates(MatmulGflops: 1e-3, ReadGbPerS: 1e-3);
            Assert.Equal(roof.Parts.Sum(p => Math.Max(p.Flops, p.Bytes)) / 1e6 * 1e3, roof.Ms(rates), 6);
            Assert.Equal(Math.Max(head.Flops, head.Bytes) / 1e3, roof.Ms(DecodeRoofline.Head, rates), 9);
        }
    }

    [Fact]
    public void TheRooflineCountsOnlyTheValueRowsAStepRead()
    {
        var config = TestData.TinyModel(2, Slot("ultramem", "1") with { Memory = Ultra });
        var (model, _) = Run(config, 2);
        using (model)
        {
            var layer = (MemoryLayer)model.memory_layers[0];
            var slots = DecodeRoofline.Of(model, 2, 5).Parts.Single(p => p.Component == DecodeRoofline.Slots);
            long dense = model.Slots().Sum(s => s.parameters().Sum(p => p.numel())) - layer.values!.weight.numel();
            Assert.Equal(4.0 * (dense + RowsWithGradient(layer.values.weight) * layer.values.Dim), slots.Bytes);
        }
    }

    [Fact]
    public void CountedExpertsAreTheExpertsThatGotAGradient()
    {
        var moe = new MoeConfig
        {
            Experts = 6,
            TopK = 2,
            ExpertHidden = 12,
            BalanceLoss = 0,
        };
        var config = TestData.TinyModel(
            2,
            Slot("moe", "0") with
            {
                ReplaceFfn = true,
                Moe = moe,
            },
            Slot("moe", "1") with
            {
                ReplaceFfn = true,
                Moe = moe,
            }
        );
        var (model, _) = Run(config, 1); // one token: exactly top-2 experts per layer
        using (model)
        {
            var reads = ParameterReads.Of(model);
            for (int j = 0; j < 2; j++)
            {
                var layer = (MixtureOfExperts)model.memory_layers[j];
                long withGrad = layer.experts.Count(e => e.parameters().Any(p => p.grad is { } g && g.abs().sum().item<float>() > 0));
                var t = reads.Tables.Single(x => x.Table == $"memory_layers.{j}.experts");
                Assert.Equal(2, t.RowsRead);
                Assert.Equal(withGrad, t.RowsRead);
                Assert.Equal(3L * 32 * 12, t.RowParameters);
            }
            // one token reads what the cost model says: dense weights + k experts per layer
            Assert.Equal(reads.DenseParameters + DecodeBenchmark.SparseCost(config, 1, uniform: false), reads.ParametersRead);
        }
    }

    [Fact]
    public void CountedPeerExpertsAreTheRowsThatGotAGradient()
    {
        var peer = new PeerConfig
        {
            NKeys = 8,
            Heads = 2,
            TopK = 4,
            KeyDim = 8,
        };
        var (model, _) = Run(TestData.TinyModel(2, Slot("peer", "1") with { Peer = peer }), 3, 2);
        using (model)
        {
            var layer = (PeerLayer)model.memory_layers[0];
            var reads = ParameterReads.Of(model);
            Assert.Equal(
                RowsWithGradient(layer.expert_down.weight),
                reads.Tables.Single(t => t.Table == "memory_layers.0.expert_down").RowsRead
            );
            Assert.Equal(
                RowsWithGradient(layer.expert_up.weight),
                reads.Tables.Single(t => t.Table == "memory_layers.0.expert_up").RowsRead
            );
        }
    }

    [Fact]
    public void MedianOfOddAndEvenCounts()
    {
        Assert.Equal(3.0, Stats.Median(new[] { 5.0, 3.0, 1.0 }));
        Assert.Equal(2.5, Stats.Median(new[] { 4.0, 1.0, 3.0, 2.0 }));
        Assert.True(double.IsNaN(Stats.Median(Array.Empty<double>())));
    }

    [Fact]
    public void CostModelFollowsSpecSection6()
    {
        var moe = new MoeConfig
        {
            Experts = 10,
            TopK = 2,
            ExpertHidden = 12,
        };
        var c = TestData.TinyModel(2, Slot("moe", "0") with { ReplaceFfn = true, Moe = moe });
        long expert = 3L * 32 * 12;
        Assert.Equal(2 * expert, DecodeBenchmark.SparseCost(c, 1, false));
        Assert.Equal(8 * expert, DecodeBenchmark.SparseCost(c, 4, false));
        Assert.Equal(10 * expert, DecodeBenchmark.SparseCost(c, 64, false)); // min(2B, N): every expert
        Assert.Equal((long)Math.Round(10 * (1 - Math.Pow(0.8, 4)) * expert), DecodeBenchmark.SparseCost(c, 4, true));

        var m = TestData.TinyModel(2, Slot("ultramem", "1") with { Memory = V2 });
        long perRow = 16 + 8,
            rows = 36,
            perToken = 4 * 4;
        Assert.Equal(perToken * perRow, DecodeBenchmark.SparseCost(m, 1, false));
        Assert.Equal(rows * perRow, DecodeBenchmark.SparseCost(m, 100, false));
    }

    [Fact]
    public void SharedSlicedAttentionBuffersDecodeLikeAnOwnCache()
    {
        var config = TestData.TinyModel(2, Slot("ultramem", "1") with { Memory = Ultra with { QueryConv = true } });
        manual_seed(5);
        using var model = new TransformerLM(config);
        model.eval();
        using var _ = no_grad();
        var tokens = randint(0, config.VocabSize, new long[] { 2, 6 });
        var big = Enumerable
            .Range(0, config.NLayers)
            .Select(_ => new AttentionCache(5, config.NHeads, config.MaxSeqLen, config.HeadDim, ScalarType.Float32, CPU))
            .ToArray();
        using var own = new DecodeCache(model, 2);
        using var shared = new DecodeCache(model, big.Select(a => a.Slice(2)).ToList(), 0);
        for (int i = 0; i < 6; i++)
        {
            var step = tokens[.., i..(i + 1)];
            Assert.True(TestData.MaxAbsDiff(model.Forward(step, own), model.Forward(step, shared)) < 1e-5f);
        }
        Assert.Equal(6, shared.Position);
        shared.Rewind(2);
        Assert.Equal(2, shared.Position);
        Assert.Throws<ArgumentOutOfRangeException>(() => shared.Rewind(3));
        Assert.NotEqual(0f, big[0].Keys[1, .., 5].abs().sum().item<float>()); // the shared buffers hold the keys
        foreach (var a in big)
            a.Dispose();
    }

    [Fact]
    public void BenchmarkRunsEveryVariantAtEveryBatch()
    {
        var moe = new MoeConfig
        {
            Experts = 6,
            TopK = 2,
            ExpertHidden = 12,
        };
        var variants = new List<DecodeVariant>
        {
            new("dense", "dense", 1, TestData.TinyModel(2)),
            new("moe", "moe", 1, TestData.TinyModel(2, Slot("moe", "0") with { ReplaceFfn = true, Moe = moe })),
            new("ultramem", "ultramem", 1, TestData.TinyModel(2, Slot("ultramem", "1") with { Memory = Ultra })),
        };
        var s = new DecodeBenchSettings
        {
            Batches = new[] { 1, 3 },
            KvLength = 30,
            Warmup = 1,
            Repetitions = 2,
            Threads = 1,
            ProfileBatches = new[] { 3 },
        };
        var run = DecodeBenchmark.Run(variants, s, _ => { }, new MachineRates(MatmulGflops: 10, ReadGbPerS: 10));
        var results = run.Steps;
        Assert.Equal(6, results.Count);
        foreach (var m in results)
        {
            Assert.Equal(2, m.StepMs.Length);
            Assert.All(m.StepMs, t => Assert.True(t > 0));
            Assert.InRange(m.ParametersRead, m.DenseParameters, m.TotalParameters);
            Assert.InRange(m.ParametersRead, m.DenseParameters, m.CostModelSpec); // never more than the cost model's upper bound
        }
        var dense = results.Where(m => m.Variant.Arch == "dense").ToList();
        Assert.All(dense, m => Assert.Equal(m.TotalParameters, m.ParametersRead));
        var profile = run.Profile;
        Assert.Equal(3, profile.Count);
        Assert.All(profile, p => Assert.True(p.SlotsMs > 0 && p.FlopsFloorMs > 0 && p.TrafficFloorMs > 0));
    }

    [Fact]
    public void ScalingVariantsGrowOnlyTheSparseTables()
    {
        var preset = ModelConfig.Preset("tiny", 8192);
        var variants = DecodeBenchmark.ScalingVariants(preset, new[] { "dense", "moe", "ultramem" }, new[] { 1, 4 });
        Assert.Equal(new[] { "dense", "moe x1", "moe x4", "ultramem x1", "ultramem x4" }, variants.Select(v => v.Name));
        Assert.Equal(Families.Matched(preset, "moe").ToJson(), variants[1].Config.ToJson());
        long Sparse(DecodeVariant v) => DecodeBenchmark.SparseCost(v.Config, int.MaxValue / 2, uniform: false); // every row: the tables' size
        Assert.Equal(4 * Sparse(variants[1]), Sparse(variants[2]));
        Assert.Equal(4 * Sparse(variants[3]), Sparse(variants[4])); // n_keys × 2 → rows × 4
        // the activated part is unchanged: same FFN and expert widths, same top-k / top-m
        Assert.Equal(variants[1].Config.FfnHidden, variants[2].Config.FfnHidden);
        Assert.Equal(variants[1].Config.MemoryLayers[0].Moe!.ExpertHidden, variants[2].Config.MemoryLayers[0].Moe!.ExpertHidden);
        Assert.Equal(variants[3].Config.FfnHidden, variants[4].Config.FfnHidden);
        Assert.Equal(variants[3].Config.MemoryLayers[0].Memory!.TopM, variants[4].Config.MemoryLayers[0].Memory!.TopM);
    }
}
