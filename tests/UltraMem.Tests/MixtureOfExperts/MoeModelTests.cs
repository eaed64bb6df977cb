using UltraMem.Layers.Moe;
using UltraMem.Model;
using UltraMem.Training;
using static TorchSharp.torch;

namespace UltraMem.Tests.Moe;

/// <summary>MoE layers inside the language model: decoding, accounting, config validation, training through the trainer.</summary>
public class MoeModelTests
{
    static readonly MoeConfig Small = new()
    {
        Experts = 4,
        TopK = 2,
        ExpertHidden = 24,
        ZLoss = 1e-3,
    };

    static ModelConfig Tiny(params SlotPlacement[] slots) => TestData.TinyModel(4, slots);

    static SlotPlacement Moe(string spec) => SlotPlacement.Parse(spec, "moe") with { Moe = Small };

    public static IEnumerable<object[]> Placements() =>
        new[]
        {
            new object[] { "parallel", new[] { "1" } },
            new object[] { "replace", new[] { "1!", "3!" } },
            new object[] { "skip", new[] { "0:2" } },
        };

    [Theory, MemberData(nameof(Placements))]
    public void KvCacheDecodingEqualsTheFullForwardPass(string name, string[] specs)
    {
        manual_seed(51);
        using var model = new TransformerLM(Tiny(specs.Select(Moe).ToArray()));
        model.eval();
        using var _ = no_grad();
        var tokens = randint(0, 97, new long[] { 3, 16 });
        var moe = (MixtureOfExperts)model.memory_layers[0];
        var (full, incremental) = TestData.DecodeInPieces(
            model,
            tokens,
            () => Assert.InRange(moe.LastDistinctExperts, 1, Math.Min(3 * Small.TopK, Small.Experts))
        ); // batch of 3 tokens, top-2
        Assert.True(TestData.MaxAbsDiff(full, incremental) < 1e-4f, $"{name}: max diff {TestData.MaxAbsDiff(full, incremental)}");
        Assert.True(full.abs().max().item<float>() > 0);
    }

    [Fact]
    public void AMoeModelBackPropagatesCountsItsParametersAndRoundTripsThroughJson()
    {
        manual_seed(52);
        var config = Tiny(Moe("1!"), SlotPlacement.Parse("2", "moe")); // the second uses the defaults
        Assert.Equal(config.ToJson(), ModelConfig.FromJson(config.ToJson()).ToJson());
        Assert.Contains("\"moe\": {", config.ToJson());
        Assert.Contains("\"top_k\": 2", config.ToJson());
        using var model = new TransformerLM(config);
        Assert.Null(model.layers[1].mlp); // replaced
        var defaults = (MixtureOfExperts)model.memory_layers[1];
        Assert.Equal(8, defaults.experts.Count);
        Assert.Equal(config.FfnHiddenResolved / 2, defaults.ExpertHidden);
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        Assert.Contains("memory_layers.0.gate.weight", names);
        Assert.Contains("memory_layers.0.experts.3.down_proj.weight", names);

        model.train();
        var tokens = randint(0, 97, new long[] { 4, 16 });
        var loss = TransformerLM.CrossEntropy(model.forward(tokens).narrow(1, 0, 15), tokens.narrow(1, 1, 15));
        var aux = model.AuxiliaryLoss();
        Assert.NotNull(aux);
        Assert.True(aux!.item<float>() > 0);
        (loss + aux).backward();
        foreach (var (pname, p) in model.named_parameters())
            if (!pname.Contains(".experts."))
                Assert.True(p.grad is not null, $"{pname} has no gradient");
        Assert.NotNull(((MixtureOfExperts)model.memory_layers[0]).gate.weight!.grad);

        var report = model.ParameterReport();
        Assert.Equal(model.parameters().Sum(p => p.numel()), report.Sum(r => r.Count.Total));
        var row = report.Single(r => r.Component.StartsWith("memory_layers.0")).Count;
        Assert.Equal(MixtureOfExperts.Accounting(Small, 32), row);
        Assert.True(row.Activated < row.Total);
        model.eval();
        Assert.Null(model.AuxiliaryLoss());
    }

    [Fact]
    public void BadMoeConfigsAreRejectedWithTheirFieldName()
    {
        void Bad(MoeConfig m, string fragment)
        {
            var e = Assert.Throws<UltraMemException>(() => Tiny(SlotPlacement.Parse("1", "moe") with { Moe = m }).Validate());
            Assert.Contains(fragment, e.Message);
            Assert.Contains("memory_layers[0].moe", e.Message);
        }
        var ok = new MoeConfig { Experts = 4, TopK = 2 };
        Tiny(SlotPlacement.Parse("1", "moe") with { Moe = ok }).Validate();
        Bad(ok with { TopK = 5 }, "top_k (5) must be <= experts (4)");
        Bad(ok with { TopK = 0 }, "top_k");
        Bad(ok with { Experts = 0, TopK = 0 }, "experts");
        Bad(ok with { ExpertHidden = 0 }, "expert_hidden");
        Bad(ok with { BalanceLoss = -0.1 }, "balance_loss");
        Bad(ok with { ZLoss = double.NaN }, "z_loss");
        var e = Assert.Throws<UltraMemException>(() => Tiny(SlotPlacement.Parse("1", "pkm") with { Moe = ok }).Validate());
        Assert.Contains("cannot take a 'moe' block", e.Message);
        e = Assert.Throws<UltraMemException>(() =>
            ModelConfig.FromJson("""{"memory_layers":[{"kind":"moe","read_at":0,"add_after":0,"moe":{"expertz":8}}]}""", "cfg.json")
        );
        Assert.Contains("expertz", e.Message);
    }

    [Fact]
    public void AMoeModelTrainsThroughTheTrainerAndResumesBitwise()
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
            MemoryLayers =
            {
                SlotPlacement.Parse("0!", "moe") with
                {
                    Moe = Small,
                },
                SlotPlacement.Parse("1", "moe") with
                {
                    Moe = Small with { ZLoss = 0 },
                },
            },
        };
        var train = new TrainConfig
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
            Seed = 6,
            Threads = 1,
        };
        TrainRequest Request(string run, bool resume = false, long? stop = null) =>
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
        var straight = Trainer.Run(Request("a"));
        Trainer.Run(Request("b", stop: 3));
        var resumed = Trainer.Run(Request("b", resume: true));
        var losses = (TrainResult r) =>
            r.Metrics.Where(m => m.Split is "train" or "val").Select(m => (m.Step, m.Split, m.Values["loss"])).ToList();
        Assert.Equal(losses(straight), losses(resumed));
        var trainLosses = straight.Metrics.Where(m => m.Split == "train").Select(m => m.Values["loss"]).ToList();
        Assert.All(trainLosses, l => Assert.True(double.IsFinite(l)));
        Assert.True(trainLosses[^1] < trainLosses[0], $"loss {trainLosses[0]} -> {trainLosses[^1]}");

        var diag = straight.Metrics.Where(m => m.Split == "mem_train").ToList();
        Assert.Equal(2, diag.Count);
        foreach (var key in new[] { "max_load", "min_load", "usage_entropy", "unused", "balance", "router_z", "distinct_experts" })
        foreach (int j in new[] { 0, 1 })
            Assert.True(diag[0].Values.ContainsKey($"mem{j}.{key}"), $"mem{j}.{key} missing");
        Assert.InRange(diag[0].Values["mem0.max_load"], 1.0, Small.Experts / (double)Small.TopK);
        Assert.InRange(diag[0].Values["mem0.usage_entropy"], 0.0, 1.0);
        Assert.InRange(diag[0].Values["mem0.balance"], 0.5, 4.0);
        Assert.True(diag[0].Values["mem0.router_z"] > 0);
        Assert.Contains(straight.Metrics, m => m.Split == "mem_val" && m.Values.ContainsKey("mem1.router_z"));
        using var loaded = Checkpoint.Open(straight.RunDir).LoadModel();
        Assert.IsType<MixtureOfExperts>(loaded.memory_layers[0]);
        Assert.Equal(Small, ((MixtureOfExperts)loaded.memory_layers[0]).Options);
    }
}
