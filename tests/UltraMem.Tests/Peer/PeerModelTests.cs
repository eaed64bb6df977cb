using UltraMem.IO;
using UltraMem.Layers.Memory;
using UltraMem.Layers.Peer;
using UltraMem.Model;
using UltraMem.Training;
using static TorchSharp.torch;

namespace UltraMem.Tests.Peer;

/// <summary>PEER layers inside the language model: placements, KV-cache decoding, configuration, training.</summary>
public class PeerModelTests
{
    static readonly PeerConfig Small = new()
    {
        NKeys = 8,
        Heads = 2,
        TopK = 4,
        KeyDim = 8,
    };

    static ModelConfig Tiny(params SlotPlacement[] slots) => TestData.TinyModel(4, slots);

    static SlotPlacement Peer(string spec) => SlotPlacement.Parse(spec, "peer") with { Peer = Small };

    public static IEnumerable<object[]> Placements() =>
        new[]
        {
            new object[] { "parallel", new[] { "1" } },
            new object[] { "replace", new[] { "2!" } },
            new object[] { "skip", new[] { "0:1", "2:3" } },
            new object[] { "mixed", new[] { "0:2", "1", "3!" } },
        };

    [Theory, MemberData(nameof(Placements))]
    public void KvCacheDecodingEqualsTheFullForwardPass(string name, string[] specs)
    {
        manual_seed(81);
        using var model = new TransformerLM(Tiny(specs.Select(Peer).ToArray()));
        model.eval();
        using var _ = no_grad();
        var tokens = randint(0, 97, new long[] { 3, 16 });
        var (full, incremental) = TestData.DecodeInPieces(model, tokens);
        Assert.True(TestData.MaxAbsDiff(full, incremental) < 1e-4f, $"{name}: max diff {TestData.MaxAbsDiff(full, incremental)}");
        Assert.True(TestData.MaxAbsDiff(full, full.roll(1, 1)) > 1e-2f); // the comparison can tell positions apart
        // the last step decoded 3 tokens (one per sequence): at most 3·h·k distinct experts per layer
        foreach (var layer in model.memory_layers.Cast<PeerLayer>())
            Assert.InRange(layer.LastDistinctExperts, Small.TopK, 3 * Small.Heads * Small.TopK);
    }

    [Fact]
    public void APeerModelTrainsAStepWithGradientsEverywhereAndReportsItsLayer()
    {
        manual_seed(82);
        using var model = new TransformerLM(Tiny(Peer("1!"), Peer("0:2")));
        model.train();
        var tokens = randint(0, 97, new long[] { 2, 16 });
        var loss = TransformerLM.CrossEntropy(model.forward(tokens).narrow(1, 0, 15), tokens.narrow(1, 1, 15));
        Assert.True(double.IsFinite(loss.item<float>()));
        loss.backward();
        foreach (var (pname, p) in model.named_parameters())
            Assert.True(p.grad is not null, $"{pname} has no gradient");
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        Assert.Contains("memory_layers.0.expert_down.weight", names);
        Assert.Contains("memory_layers.0.expert_up.weight", names);
        Assert.Equal(
            new[]
            {
                "memory_layers.0.expert_down.weight",
                "memory_layers.0.expert_up.weight",
                "memory_layers.1.expert_down.weight",
                "memory_layers.1.expert_up.weight",
            },
            model.RowSparseTables().Select(t => t.Name)
        );
        var report = model.ParameterReport();
        Assert.Equal(model.parameters().Sum(p => p.numel()), report.Sum(r => r.Count.Total));
        var peer = report.Single(r => r.Component.StartsWith("memory_layers.0"));
        Assert.Contains("peer", peer.Component);
        Assert.Equal(PeerLayer.Accounting(Small, 32), peer.Count);
        var diag = model.Diagnostics(reset: true);
        Assert.InRange(diag["mem0.coverage"], 1e-6, 1.0);
        Assert.InRange(diag["mem0.usage_entropy"], 1e-6, 1.0);
        Assert.True(diag["mem0.output_std"] > 0);
        Assert.DoesNotContain(model.Diagnostics(reset: false), kv => kv.Key.EndsWith("coverage")); // cleared by the reset
    }

    [Fact]
    public void PeerBlocksRoundTripThroughJsonWithSnakeCaseNames()
    {
        var config = Tiny(
            Peer("1!") with
            {
                Peer = Small with
                {
                    Gate = PeerGate.Sigmoid,
                    Activation = PeerActivation.Silu,
                    QkNorm = true,
                    QueryNorm = QueryNorm.BatchNorm,
                },
            },
            SlotPlacement.Parse("2", "peer")
        );
        string json = config.ToJson();
        foreach (
            var field in new[]
            {
                "\"peer\"",
                "\"n_keys\"",
                "\"top_k\"",
                "\"key_dim\"",
                "\"gate\"",
                "\"activation\"",
                "\"query_norm\"",
                "\"qk_norm\"",
            }
        )
            Assert.Contains(field, json);
        var again = ModelConfig.FromJson(json, "cfg.json");
        Assert.Equal(json, again.ToJson());
        Assert.Equal(config.MemoryLayers[0].Peer, again.MemoryLayers[0].Peer);
        Assert.Null(again.MemoryLayers[1].Peer);
    }

    public static IEnumerable<object[]> BadConfigs() =>
        new[]
        {
            new object[] { Small with { NKeys = 1 }, "n_keys" },
            new object[] { Small with { Heads = 0 }, "heads" },
            new object[] { Small with { TopK = 0 }, "top_k" },
            new object[] { Small with { TopK = 9 }, "top_k" },
            new object[] { Small with { KeyDim = 7 }, "key_dim" },
            new object[] { Small with { Activation = (PeerActivation)99 }, "activation" },
            new object[] { Small with { Gate = (PeerGate)99 }, "gate" },
            new object[] { Small with { QueryNorm = (QueryNorm)99 }, "query_norm" },
            new object[] { Small with { NKeys = 50_000 }, "n_keys" },
        };

    [Theory, MemberData(nameof(BadConfigs))]
    public void BadPeerConfigsAreRejectedWithTheirFieldName(PeerConfig bad, string field)
    {
        var e = Assert.Throws<UltraMemException>(() => Tiny(Peer("1") with { Peer = bad }).Validate());
        Assert.Contains(field, e.Message);
        Assert.Contains("memory_layers[0].peer", e.Message);
        Assert.Throws<UltraMemException>(() => new PeerLayer(32, bad));
    }

    [Fact]
    public void PeerBlocksBelongToPeerPlacementsOnly()
    {
        var e = Assert.Throws<UltraMemException>(() => Tiny(SlotPlacement.Parse("1", "pkm") with { Peer = Small }).Validate());
        Assert.Contains("'peer' block", e.Message);
        var m = Assert.Throws<UltraMemException>(() => Tiny(Peer("1") with { Memory = new() }).Validate());
        Assert.Contains("'memory' block", m.Message);
        var j = Assert.Throws<UltraMemException>(() =>
            ModelConfig.FromJson("""{"memory_layers":[{"kind":"peer","read_at":0,"add_after":0,"peer":{"top_m":8}}]}""", "cfg.json")
        );
        Assert.Contains("top_m", j.Message);
        Tiny(Peer("1"), SlotPlacement.Parse("2", "peer")).Validate(); // with and without a block
    }

    [Theory]
    [InlineData("dense")]
    [InlineData("row_sparse")]
    public void AShortTrainingRunIsFiniteLearnsAndResumesBitwise(string valueUpdates)
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
            MemoryLayers = { Peer("0!"), Peer("0:1") },
        };
        var train = new TrainConfig
        {
            Corpus = corpus,
            TokenizerVocabSize = 320,
            ValidationFraction = 0.2,
            BatchSize = 4,
            SeqLen = 32,
            MaxSteps = 8,
            LearningRate = 3e-3,
            EvalInterval = 4,
            EvalBatches = 2,
            CheckpointInterval = 100,
            Seed = 5,
            Threads = 1,
            ValueUpdates = JsonEnum.Parse<ValueUpdates>(valueUpdates),
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
        var losses = (TrainResult r) =>
            r.Metrics.Where(m => m.Split is "train" or "val").Select(m => (m.Step, m.Split, m.Values["loss"])).ToList();
        Assert.NotEmpty(losses(straight));
        Assert.All(losses(straight), l => Assert.True(double.IsFinite(l.Item3)));
        Assert.True(
            straight.Metrics.Last(m => m.Split == "train").Values["loss"] < straight.Metrics.First(m => m.Split == "train").Values["loss"]
        );
        var diag = straight.Metrics.First(m => m.Split == "mem_train");
        Assert.InRange(diag.Values["mem0.coverage"], 1e-6, 1.0);
        Assert.InRange(diag.Values["mem1.coverage"], 1e-6, 1.0);
        Trainer.Run(Request("b", stop: 3));
        var resumed = Trainer.Run(Request("b", resume: true));
        Assert.Equal(losses(straight), losses(resumed));
    }
}
