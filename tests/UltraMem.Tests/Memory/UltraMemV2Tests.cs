using UltraMem.Architectures;
using UltraMem.IO;
using UltraMem.Layers.Memory;
using UltraMem.Model;
using UltraMem.Training;
using static TorchSharp.torch;

namespace UltraMem.Tests.Memory;

/// <summary>UltraMemV2's changes and Memory+ against naive references; the ring-shared table; the V2 init.</summary>
public class UltraMemV2Tests
{
    const int D = 16;

    static MemoryConfig V2(int? preValueDim = 4, int expansion = 4, bool perRank = true) =>
        new()
        {
            NKeys = 5,
            Heads = 1,
            TopM = 6,
            KeyDim = 8,
            ValueDim = 12,
            PreValueDim = preValueDim,
            ValueProjection = true,
            Softmax = false,
            QueryNorm = QueryNorm.None,
            QkNorm = true,
            Expansion = expansion,
            SingleProjector = true,
            Retrieval = Retrieval.Tucker,
            TuckerRank = 2,
            TuckerCores = 2,
            QueryPerRank = perRank,
            Init = InitScheme.V2,
        };

    /// <summary>o = W_proj [ (Σ_i a_i s_i,c V[row_i][chunk c])_c ] (⊙ SiLU(W_s x)), in double, token by token, from the layer's own
    /// selection.</summary>
    static Tensor Naive(MemoryLayer layer, Tensor x)
    {
        var c = layer.Options;
        long n = x.shape[0] * x.shape[1];
        var xf = x.reshape(n, D).to(ScalarType.Float64);
        using var sel = layer.Retrieve(x);
        var (group, row) = layer.TableRows(sel.Addresses);
        var rows = row.view(n, -1).data<long>().ToArray();
        var scores = sel.Scores.reshape(n, -1, c.Cores).to(ScalarType.Float64);
        if (c.Softmax)
            scores = sel.Scores.softmax(2).reshape(n, -1, c.Cores).to(ScalarType.Float64);
        var v = layer.Values.weight.to(ScalarType.Float64);
        int dv = c.ValueDimResolved(D),
            chunk = dv / c.Cores,
            s = c.Heads * c.TopM;
        var pooled = zeros(n, dv, dtype: ScalarType.Float64);
        var pre = layer.pre_value_proj is null ? null : xf.matmul(layer.pre_value_proj.weight!.to(ScalarType.Float64).t());
        for (long t = 0; t < n; t++)
        for (int i = 0; i < s; i++)
        {
            long r = rows[t * s + i];
            double a = 1;
            if (pre is not null)
            {
                a = (pre[t] * layer.PreValues!.weight[r].to(ScalarType.Float64)).sum().item<double>();
                if (c.PreValueActivation == PreValueActivation.Gelu)
                    a = nn.functional.gelu(tensor(a)).item<double>();
            }
            for (int k = 0; k < c.Cores; k++)
                pooled[t, TensorIndex.Slice(k * chunk, (k + 1) * chunk)] +=
                    a * scores[t, i, k].item<double>() * v[r, TensorIndex.Slice(k * chunk, (k + 1) * chunk)];
        }
        if (layer.gate_proj is not null)
            pooled = pooled * nn.functional.silu(xf.matmul(layer.gate_proj.weight!.to(ScalarType.Float64).t()));
        return layer.value_proj is null ? pooled : pooled.matmul(layer.value_proj.weight!.to(ScalarType.Float64).t());
    }

    [Theory]
    [InlineData(null, 4)] // pre-values off: v1 retrieval + IVE groups summed + single projector
    [InlineData(4, 4)] // with pre-values
    [InlineData(4, 1)] // no IVE
    public void LayerEqualsItsNaiveReference(int? preValueDim, int expansion)
    {
        manual_seed(71);
        using var layer = new MemoryLayer(D, V2(preValueDim, expansion));
        layer.eval();
        using var _ = no_grad();
        var x = randn(2, 5, D);
        var got = layer.forward(x).reshape(10, D).to(ScalarType.Float64);
        var want = Naive(layer, x);
        Assert.True(
            TestData.MaxAbsDiff(got, want) < 1e-4 * (1 + want.abs().max().item<double>()),
            $"max diff {TestData.MaxAbsDiff(got, want)}"
        );
    }

    [Fact]
    public void WithoutPreValuesTheSingleProjectorIsTheV1RetrievalWithGroupsSummed()
    {
        // v1 layer with per-group projectors W_1..W_E, and V2's single projector W: equal outputs when W_g = W for every group.
        manual_seed(72);
        var v2 = V2(preValueDim: null, perRank: false);
        var v1 = v2 with { SingleProjector = false, Init = InitScheme.Paper };
        using var a = new MemoryLayer(D, v2);
        using var b = new MemoryLayer(D, v1);
        a.eval();
        b.eval();
        using var _ = no_grad();
        foreach (var (name, p) in a.named_parameters())
            if (name != "value_proj.weight")
                b.get_parameter(name)!.copy_(p);
        foreach (var (name, buf) in a.named_buffers())
            b.get_buffer(name)!.copy_(buf);
        b.value_proj!.weight!.copy_(a.value_proj!.weight!.repeat(1, 4)); // [D, E·Dv] = [W W W W]
        var x = randn(3, 4, D);
        Assert.True(TestData.MaxAbsDiff(a.forward(x), b.forward(x)) < 1e-5);
    }

    [Fact]
    public void PerRankQueriesScoreEachRankWithItsOwnQuery()
    {
        manual_seed(73);
        var c = V2() with { TuckerRank = 3 };
        using var keys = new ProductKeys(c);
        using var _ = no_grad();
        keys.row_keys.normal_();
        keys.col_keys.normal_();
        var q = randn(7, 1, 3, c.KeyDim);
        var (sRow, sCol) = keys.Scores(q); // [H, N, r, n']
        var rowKeys = keys.k_norm!.forward(keys.row_keys);
        for (int rho = 0; rho < 3; rho++)
        {
            var qr = keys.q_norm!.forward(q.select(2, rho).narrow(2, 0, c.KeyDim / 2)); // [N, 1, Dk/2]
            var want = qr.squeeze(1).matmul(rowKeys[0, rho].t()); // [N, n']
            Assert.True(TestData.MaxAbsDiff(sRow[0, .., rho], want) < 1e-5);
        }
        // identical queries for every rank give the shared-query scores
        var shared = randn(7, 1, c.KeyDim);
        var (r1, c1) = keys.Scores(shared);
        var (r2, c2) = keys.Scores(shared.unsqueeze(2).expand(-1, -1, 3, -1));
        Assert.True(TestData.MaxAbsDiff(r1, r2) < 1e-5 && TestData.MaxAbsDiff(c1, c2) < 1e-5);
    }

    [Fact]
    public void MemoryPlusGateEqualsItsNaiveReference()
    {
        manual_seed(74);
        var c = new MemoryConfig
        {
            NKeys = 6,
            Heads = 2,
            TopM = 3,
            KeyDim = 8,
            ValueDim = 8,
            ValueProjection = true,
            OutputGate = true,
            QkNorm = true,
            QueryNorm = QueryNorm.None,
        };
        using var layer = new MemoryLayer(D, c);
        layer.eval();
        using var _ = no_grad();
        var x = randn(2, 3, D);
        var want = Naive(layer, x);
        Assert.True(TestData.MaxAbsDiff(layer.forward(x).reshape(6, D).to(ScalarType.Float64), want) < 1e-5);
    }

    [Fact]
    public void RingWindowsStartAtLayerTimesNSquaredAndWrap()
    {
        var model = new ModelConfig
        {
            VocabSize = 50,
            DModel = D,
            NLayers = 4,
            NHeads = 2,
            MaxSeqLen = 16,
            Dropout = 0,
        };
        var config = MemoryPresets.RingShared(
            model with
            {
                MemoryLayers = Enumerable
                    .Range(0, 4)
                    .Select(i => new SlotPlacement
                    {
                        Kind = "ultramem",
                        ReadAt = i,
                        AddAfter = i,
                        Memory = V2(),
                    })
                    .ToList(),
            },
            shareRatio: 0.5
        );
        Assert.Equal(25L * 4, config.SharedValueRows); // G = n²·L_m
        var mems = config.MemoryLayers.Select(p => p.Memory!).ToList();
        Assert.All(mems, m => Assert.Equal(7, m.NKeys)); // n_w = ⌊√(0.5·100)⌋
        Assert.Equal(new long[] { 0, 25, 50, 75 }, mems.Select(m => m.SharedOffset));
        // window rows p ∈ [0, 49) of layer 3 start at 75 and wrap past G = 100
        var p = arange(49, dtype: ScalarType.Int64);
        var rows = SharedMemory.WindowRows(p, 75, 100).data<long>().ToArray();
        Assert.Equal(Enumerable.Range(0, 49).Select(i => (long)((75 + i) % 100)), rows);
        Assert.Equal(23L, rows[48]);

        manual_seed(75);
        using var lm = new TransformerLM(config);
        lm.eval();
        var names = lm.named_parameters().Select(x => x.name).ToList();
        Assert.Contains("shared_memory.values.weight", names);
        Assert.Contains("shared_memory.pre_values.weight", names);
        Assert.DoesNotContain(names, n => n.StartsWith("memory_layers.") && n.Contains("values.weight"));
        Assert.Equal(lm.parameters().Sum(x => x.numel()), lm.ParameterReport().Sum(r => r.Count.Total));
        // a layer reads the shared rows of its window: its output equals the naive lookup at the wrapped rows
        using var _ = no_grad();
        var layer3 = (MemoryLayer)lm.memory_layers[3];
        var x = randn(2, 3, D);
        using var sel = layer3.Retrieve(x);
        var (_, r3) = layer3.TableRows(sel.Addresses);
        var ive = layer3.ive!.Map(sel.Addresses).Row;
        Assert.True((r3 == SharedMemory.WindowRows(ive, 75, 100)).all().item<bool>());
        Assert.True(TestData.MaxAbsDiff(layer3.forward(x).reshape(6, D).to(ScalarType.Float64), Naive(layer3, x)) < 1e-4);
    }

    [Fact]
    public void SharedTableIsOptimisedOnceWithTheFixedLearningRateOfMemoryPlus()
    {
        var config = MemoryPresets.MemoryPlus(
            new ModelConfig
            {
                VocabSize = 50,
                DModel = 32,
                NLayers = 4,
                NHeads = 2,
                MaxSeqLen = 16,
                Dropout = 0,
            }
        );
        Assert.Equal(2, config.MemoryLayers.Count);
        manual_seed(76);
        using var lm = new TransformerLM(config);
        var groups = ParameterGroups.ForModel(lm, 0.1, 100);
        var shared = groups.Single(g => g.Name == "shared_memory.values");
        Assert.Equal("shared_memory.values.weight", Assert.Single(shared.Parameters).Name);
        Assert.Equal(1e-3, shared.FixedLearningRate);
        Assert.Equal(lm.parameters().Count(), groups.Sum(g => g.Parameters.Count)); // every parameter exactly once
        var opt = new AdamW(groups, 0.9, 0.95, 1e-8);
        var tokens = randint(50, new long[] { 2, 8 });
        TransformerLM.CrossEntropy(lm.forward(tokens), tokens).backward();
        opt.Step(lr: 0.05);
        Assert.Equal(1e-3, shared.CurrentLearningRate);
        Assert.Equal(0.05, groups.Single(g => g.Name == "decay").CurrentLearningRate);
    }

    public static IEnumerable<object[]> DecodeModels() =>
        new[] { new object[] { "ultramemv2" }, new object[] { "ultramemv2+ring" }, new object[] { "memory+" } };

    [Theory, MemberData(nameof(DecodeModels))]
    public void KvCacheDecodingEqualsTheFullForwardPass(string arch)
    {
        var b = new ModelConfig
        {
            VocabSize = 61,
            DModel = 32,
            NLayers = 3,
            NHeads = 2,
            MaxSeqLen = 20,
            Dropout = 0,
        };
        var config = arch switch
        {
            "ultramemv2" => MemoryPresets.UltraMemV2(b),
            "ultramemv2+ring" => MemoryPresets.UltraMemV2(b, ringShareRatio: 0.5),
            _ => MemoryPresets.MemoryPlus(b),
        };
        manual_seed(77);
        using var model = new TransformerLM(config);
        model.eval();
        using var _ = no_grad();
        var tokens = randint(61, new long[] { 2, 12 });
        var (full, incremental) = TestData.DecodeInPieces(model, tokens);
        Assert.True(TestData.MaxAbsDiff(full, incremental) < 1e-4f, $"{arch}: max diff {TestData.MaxAbsDiff(full, incremental)}");
    }

    /// <summary>
    /// The memory output variance at init equals the FFN output variance (the V2 init's target), for σ_V⁴ (with pre-values) and
    /// σ_V² (without). Widths are those of a D = 256 model (at tiny widths the realised weights alone scatter the ratio by ±10%);
    /// the table is shrunk to n = 48, which the formula does not depend on.
    /// </summary>
    [Theory]
    [InlineData(true, 1)]
    [InlineData(true, 2)]
    [InlineData(false, 1)]
    [InlineData(false, 2)]
    public void V2InitMatchesTheFfnOutputVarianceWithinTenPercent(bool preValues, int seed)
    {
        var b = new ModelConfig
        {
            VocabSize = 64,
            DModel = 256,
            NLayers = 4,
            NHeads = 4,
            MaxSeqLen = 16,
            Dropout = 0,
        };
        var config = MemoryPresets.UltraMemV2(b);
        config = config with
        {
            MemoryLayers = config
                .MemoryLayers.Select(p =>
                    p with
                    {
                        Memory = p.Memory! with { NKeys = 48, PreValueDim = preValues ? p.Memory!.PreValueDim : null },
                    }
                )
                .ToList(),
        };
        manual_seed(78 + seed);
        using var model = new TransformerLM(config);
        model.eval();
        using var _ = no_grad();
        var x = randn(1, 4096, 256); // the RMS-normalised FFN input: unit variance
        double ffn = model.layers[1].mlp!.forward(x).var().item<float>();
        double mem = model.memory_layers[1].forward(x).var().item<float>();
        Assert.InRange(mem / ffn, 0.9, 1.1);
        // the std the formula chose is what the tables hold
        var layer = (MemoryLayer)model.memory_layers[1];
        Assert.InRange(layer.Values.weight.std().item<float>() / layer.ValueInitStd(config), 0.98, 1.02);
    }

    /// <summary>
    /// v1's <c>paper_matched</c> init solves the same equation as V2's for the ladder's UltraMem layers (E = 4 projectors,
    /// raw scores, two cores, skip-layer placement), so memory and FFN outputs start with equal variance, where the
    /// literal <c>paper</c> values are tens of times larger at init_std 0.02.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void PaperMatchedInitMatchesTheFfnOutputVarianceWithinTenPercent(int seed)
    {
        var b = new ModelConfig
        {
            VocabSize = 64,
            DModel = 256,
            NLayers = 4,
            NHeads = 4,
            MaxSeqLen = 16,
            Dropout = 0,
        };
        var ladder = MemoryPresets.Apply(b, "pkm+init");
        double Ratio(string init)
        {
            var config = ladder with
            {
                MemoryLayers = ladder
                    .MemoryLayers.Select(p => p with { Memory = p.Memory! with { NKeys = 48, Init = JsonEnum.Parse<InitScheme>(init) } })
                    .ToList(),
            };
            manual_seed(90 + seed);
            using var model = new TransformerLM(config);
            model.eval();
            using var _ = no_grad();
            var x = randn(1, 4096, 256);
            double ffn = model.layers[0].mlp!.forward(x).var().item<float>();
            double mem = model.memory_layers[0].forward(x).var().item<float>();
            return mem / ffn;
        }
        Assert.InRange(Ratio("paper_matched"), 0.9, 1.1);
        Assert.True(Ratio("paper") > 100, "the literal paper init should be far above the FFN at init_std 0.02");
    }

    [Fact]
    public void ComputeShareHelperHitsItsTarget()
    {
        var b = ModelConfig.Preset("small", 8192);
        var config = MemoryPresets.UltraMemV2(b);
        long mem = config.MemoryLayers.Sum(p => MemoryLayer.Accounting(p.Memory!, b.DModel).FlopsPerToken);
        long rest = ModelAccounting.Total(b).FlopsPerToken;
        Assert.InRange(mem / (double)(mem + rest), 0.15, 0.19);
        var m = config.MemoryLayers[0].Memory!;
        Assert.Equal(m.KeyDim, m.ValueDim);
        Assert.Equal(m.ValueDim / 3, m.PreValueDim);
        Assert.Throws<UltraMemException>(() => MemoryPresets.UltraMemV2(b, computeShare: 1.5));
    }
}
