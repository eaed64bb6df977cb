using UltraMem.Architectures;
using UltraMem.IO;
using UltraMem.Layers.Memory;
using UltraMem.Model;
using static TorchSharp.torch;

namespace UltraMem.Tests.Memory;

/// <summary>Memory layers inside the language model: placements, KV-cache decoding, the ladder presets.</summary>
public class MemoryModelTests
{
    /// <summary>A small UltraMem layer with every v1 switch on (shared with the decode-benchmark tests).</summary>
    internal static readonly MemoryConfig UltraSmall = new()
    {
        NKeys = 6,
        Heads = 4,
        TopM = 4,
        KeyDim = 8,
        ValueDim = 16,
        ValueProjection = true,
        Softmax = false,
        ShareQuery = true,
        QkNorm = true,
        Expansion = 4,
        Retrieval = Retrieval.Tucker,
        TuckerRank = 2,
        TuckerCores = 2,
        Init = InitScheme.Paper,
        ValueLrMultiplier = 4,
        QueryConv = true,
        QueryConvKernel = 3,
    };

    static ModelConfig Tiny(params SlotPlacement[] slots) => TestData.TinyModel(4, slots);

    static SlotPlacement Mem(string spec) => SlotPlacement.Parse(spec, "ultramem") with { Memory = UltraSmall };

    public static IEnumerable<object[]> Placements() =>
        new[]
        {
            new object[] { "parallel", new[] { "1" } },
            new object[] { "replace", new[] { "2!" } },
            new object[] { "skip", new[] { "0:1", "2:3" } },
            new object[] { "mixed", new[] { "0:2", "1", "3!" } },
        };

    [Theory, MemberData(nameof(Placements))]
    public void KvCacheDecodingWithQueryConvEqualsTheFullForwardPass(string name, string[] specs)
    {
        manual_seed(41);
        using var model = new TransformerLM(Tiny(specs.Select(Mem).ToArray()));
        model.eval();
        using var _ = no_grad();
        var tokens = randint(0, 97, new long[] { 3, 16 });
        var (full, incremental) = TestData.DecodeInPieces(model, tokens);
        Assert.True(TestData.MaxAbsDiff(full, incremental) < 1e-4f, $"{name}: max diff {TestData.MaxAbsDiff(full, incremental)}");
    }

    [Fact]
    public void QueryConvIsCausal()
    {
        manual_seed(42);
        using var model = new TransformerLM(Tiny(Mem("0:2")));
        using (no_grad())
            ((MemoryLayer)model.memory_layers[0]).query.query_conv!.weight.normal_(); // not the identity
        model.eval();
        using var _ = no_grad();
        var tokens = randint(0, 97, new long[] { 2, 14 });
        var changed = tokens.clone();
        changed[.., 9..] = randint(0, 97, new long[] { 2, 5 });
        var a = model.forward(tokens);
        var b = model.forward(changed);
        Assert.True(TestData.MaxAbsDiff(a[.., ..9], b[.., ..9]) < 1e-5f);
        Assert.True(TestData.MaxAbsDiff(a[.., 9..], b[.., 9..]) > 1e-4f);
    }

    [Fact]
    public void EveryLadderRungBuildsTrainsAStepAndRoundTripsThroughJson()
    {
        var baseConfig = ModelConfig.Preset("tiny", 512) with { Dropout = 0 };
        long previousTotal = 0;
        foreach (var rung in MemoryPresets.Ladder)
        {
            manual_seed(43);
            var config = MemoryPresets.Apply(baseConfig, rung);
            var again = ModelConfig.FromJson(config.ToJson(), rung);
            Assert.Equal(config.ToJson(), again.ToJson());
            using var model = new TransformerLM(config);
            model.train();
            var tokens = randint(0, 512, new long[] { 2, 16 });
            var logits = model.forward(tokens);
            var loss = TransformerLM.CrossEntropy(logits.narrow(1, 0, 15), tokens.narrow(1, 1, 15));
            Assert.True(double.IsFinite(loss.item<float>()), rung);
            loss.backward();
            foreach (var (pname, p) in model.named_parameters())
                Assert.True(p.grad is not null, $"{rung}: {pname} has no gradient");
            var report = model.ParameterReport();
            Assert.Equal(model.parameters().Sum(p => p.numel()), report.Sum(r => r.Count.Total));
            var mem = report.Where(r => r.Component.StartsWith("memory_layers")).ToList();
            Assert.NotEmpty(mem);
            Assert.All(
                mem,
                r =>
                    Assert.True(
                        r.Count.Activated < r.Count.Total / 5,
                        $"{rung}: {r.Component} activates {r.Count.Activated} of {r.Count.Total}"
                    )
            );
            Assert.True(model.Diagnostics(reset: true).ContainsKey("mem0.coverage"));
            previousTotal = report.Sum(r => r.Count.Total);
        }
        Assert.True(previousTotal > 0);
    }

    [Fact]
    public void LadderRungsDifferByExactlyTheirSwitch()
    {
        var baseConfig = ModelConfig.Preset("tiny", 512);
        MemoryConfig M(string rung) => MemoryPresets.Apply(baseConfig, rung).MemoryLayers[0].Memory!;
        Assert.True(M("pkm").Softmax && !M("pkm+rm_softmax").Softmax);
        Assert.Equal(M("pkm+rm_softmax") with { Softmax = true }, M("pkm"));
        Assert.Equal(M("pkm+split") with { QkNorm = true }, M("pkm+qk_norm"));
        Assert.Equal(M("pkm+qk_norm") with { Expansion = 4 }, M("pkm+ive"));
        Assert.Equal(M("pkm+ive") with { Retrieval = Retrieval.Tucker }, M("pkm+tdqkr"));
        Assert.Equal(M("pkm+tdqkr") with { TuckerCores = 2 }, M("pkm+mcs"));
        Assert.Equal(M("pkm+mcs") with { Init = InitScheme.PaperMatched }, M("pkm+init"));
        Assert.Equal(M("pkm+init") with { ValueLrMultiplier = 4 }, M("ultramem"));
        Assert.Equal(M("ultramem") with { QueryConv = true }, M("ultramem+query_conv"));
        Assert.Single(MemoryPresets.Apply(baseConfig, "pkm+share_query").MemoryLayers);
        var split = MemoryPresets.Apply(baseConfig, "pkm+split").MemoryLayers;
        Assert.Equal(new[] { (0, 1), (2, 3) }, split.Select(p => (p.ReadAt, p.AddAfter)));
    }

    [Fact]
    public void ValueTablesGetTheirOwnOptimizerGroupWithTheDecayingMultiplier()
    {
        using var model = new TransformerLM(Tiny(Mem("0:1"), Mem("2")));
        var groups = UltraMem.Training.ParameterGroups.ForModel(model, 0.1, maxSteps: 100);
        var values = groups.Single(g => g.Name == "memory_layers.0.values");
        Assert.Equal("memory_layers.0.values.weight", Assert.Single(values.Parameters).Name);
        Assert.Equal(4.0, values.LearningRateMultiplier(0), 12);
        Assert.Equal(2.5, values.LearningRateMultiplier(50), 12);
        Assert.Equal(1.0, values.LearningRateMultiplier(100), 12);
        Assert.Equal(0.1, values.WeightDecay);
        Assert.Contains(groups, g => g.Name == "memory_layers.1.values");
    }

    [Fact]
    public void BadMemoryConfigsAreRejectedWithTheirFieldName()
    {
        void Bad(MemoryConfig m, string fragment)
        {
            var e = Assert.Throws<UltraMemException>(() => Tiny(SlotPlacement.Parse("1", "pkm") with { Memory = m }).Validate());
            Assert.Contains(fragment, e.Message);
        }
        var ok = new MemoryConfig
        {
            NKeys = 8,
            Heads = 2,
            TopM = 4,
            KeyDim = 8,
        };
        Bad(ok with { Expansion = 3 }, "expansion");
        Bad(ok with { KeyDim = 7 }, "key_dim");
        Bad(ok with { Heads = 3, ShareQuery = true }, "share_query");
        Bad(ok with { TuckerCores = 2 }, "tucker_cores");
        Bad(ok with { TopM = 9 }, "top_m");
        Bad(ok with { Retrieval = Retrieval.Tucker, TuckerCores = 3, ValueDim = 8 }, "divisible");
        Bad(ok with { QueryNorm = (QueryNorm)99 }, "query_norm");
        Bad(ok with { Init = (InitScheme)99 }, "init");
        var e = Assert.Throws<UltraMemException>(() =>
            ModelConfig.FromJson("""{"memory_layers":[{"kind":"pkm","read_at":0,"add_after":0,"memory":{"n_keyz":8}}]}""", "cfg.json")
        );
        Assert.Contains("n_keyz", e.Message);
    }

    [Theory]
    [InlineData("dense")]
    [InlineData("row_sparse")]
    public void AMemoryModelTrainsAndResumesBitwiseOnBothValuePaths(string valueUpdates)
    {
        string root = TestData.TempDir();
        string corpus = TestData.CorpusFolder(root);
        var model = new ModelConfig
        {
            DModel = 32,
            NLayers = 2,
            NHeads = 2,
            MaxSeqLen = 32,
            Dropout = 0.1,
            MemoryLayers = { Mem("0:1") },
        };
        var train = new UltraMem.Training.TrainConfig
        {
            Corpus = corpus,
            TokenizerVocabSize = 320,
            ValidationFraction = 0.2,
            BatchSize = 4,
            SeqLen = 32,
            MaxSteps = 8,
            GradAccum = 2,
            LearningRate = 3e-3,
            EvalInterval = 4,
            EvalBatches = 2,
            CheckpointInterval = 100,
            Seed = 5,
            Threads = 1,
            ValueUpdates = JsonEnum.Parse<UltraMem.Training.ValueUpdates>(valueUpdates),
        };
        UltraMem.Training.TrainRequest Request(string run, bool resume = false, long? stop = null) =>
            new()
            {
                RunDir = Path.Combine(root, run),
                Model = model,
                Train = train,
                CacheDir = Path.Combine(root, "cache"),
                Resume = resume,
                StopAfterStep = stop,
                ShowProgress = false,
                Log = _ => { },
            };
        var straight = UltraMem.Training.Trainer.Run(Request("a"));
        UltraMem.Training.Trainer.Run(Request("b", stop: 3));
        var resumed = UltraMem.Training.Trainer.Run(Request("b", resume: true));
        var losses = (UltraMem.Training.TrainResult r) =>
            r.Metrics.Where(m => m.Split is "train" or "val").Select(m => (m.Step, m.Split, m.Values["loss"])).ToList();
        Assert.Equal(losses(straight), losses(resumed));
        Assert.True(
            straight.Metrics.Last(m => m.Split == "train").Values["loss"] < straight.Metrics.First(m => m.Split == "train").Values["loss"]
        );
        var diag = straight.Metrics.Where(m => m.Split == "mem_train").ToList();
        Assert.Equal(2, diag.Count);
        Assert.InRange(diag[0].Values["mem0.coverage"], 1e-6, 1.0);
        Assert.Contains(straight.Metrics, m => m.Split == "mem_val" && m.Values.ContainsKey("mem0.lambda1"));
    }
}
