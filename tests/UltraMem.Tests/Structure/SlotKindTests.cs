using UltraMem.Model;
using UltraMem.Tests.Structure.ToyKind;
using UltraMem.Training;

namespace UltraMem.Tests.Structure;

/// <summary>A slot kind added from outside the library (one folder, one registry line) works everywhere a built-in one does.</summary>
public sealed class SlotKindTests
{
    static SlotKindTests()
    {
        SlotKinds.Register(ToyLookupKind.Instance); // the one registry line
    }

    const string Json = """
        { "vocab_size": 300, "d_model": 32, "n_layers": 2, "n_heads": 2, "max_seq_len": 32, "dropout": 0,
          "memory_layers": [ { "kind": "toy_lookup", "read_at": 0, "add_after": 1, "toy": { "rows": 12, "rank": 3, "kappa": 4 } },
                             { "kind": "toy_lookup", "read_at": 1, "add_after": 1 } ] }
        """;

    [Fact]
    public void AToyKindTrainsSavesLoadsAndIsCounted()
    {
        var config = ModelConfig.FromJson(Json, "toy.json");
        Assert.Equal(config.ToJson(), ModelConfig.FromJson(config.ToJson(), "again").ToJson()); // JSON round trip

        // counted from the config alone (what `ultramem info` prints) exactly as built
        var resolved = config.Resolve();
        Assert.Equal(new ToyLookupConfig { Rows = 16, Kappa = 2 }, resolved.MemoryLayers[1].Settings); // its defaults filled in
        var report = ModelAccounting.Report(config);
        Assert.Contains(report, r => r.Component == "memory_layers.0 (toy_lookup, 0:1)" && r.Count.Total == 2 * 32 * 3 + 12 * 32);
        using (var built = new TransformerLM(config))
        {
            Assert.Equal(built.parameters().Sum(p => p.numel()), report.Sum(r => r.Count.Total));
            // its value tables are found by type: a value-lr group and row-sparse training for free
            var groups = ParameterGroups.ForModel(built, 0.1, 100);
            Assert.Equal(4.0, groups.Single(g => g.Name == "memory_layers.0.values").LearningRateMultiplier(0), 12);
            Assert.Equal(
                new[] { "memory_layers.0.table.weight", "memory_layers.1.table.weight" },
                built.RowSparseTables().Select(t => t.Name)
            );
        }

        // trains (dense and row-sparse value updates), saves and loads
        string root = TestData.TempDir();
        string corpus = TestData.CorpusFolder(root);
        foreach (var updates in new[] { TrainConfig.DenseValueUpdates, TrainConfig.RowSparseValueUpdates })
        {
            var result = Trainer.Run(
                new TrainRequest
                {
                    RunDir = Path.Combine(root, updates.ToString()),
                    Model = config,
                    CacheDir = Path.Combine(root, "cache"),
                    ShowProgress = false,
                    Log = _ => { },
                    Train = new TrainConfig
                    {
                        Corpus = corpus,
                        TokenizerVocabSize = 300,
                        ValidationFraction = 0.2,
                        BatchSize = 4,
                        SeqLen = 32,
                        MaxSteps = 4,
                        EvalInterval = 4,
                        EvalBatches = 1,
                        CheckpointInterval = 4,
                        Threads = 1,
                        ValueUpdates = updates,
                    },
                }
            );
            Assert.True(double.IsFinite(result.FinalValidationLoss ?? double.NaN));
            var checkpoint = Checkpoint.Open(result.RunDir);
            using var loaded = checkpoint.LoadModel();
            Assert.IsType<ToyLookupLayer>(loaded.memory_layers[0]);
            Assert.Equal(12, ((ToyLookupLayer)loaded.memory_layers[0]).table.Rows);
            Assert.Equal(resolved.MemoryLayers.Select(p => p.Settings), checkpoint.ModelConfig.MemoryLayers.Select(p => p.Settings));
        }
    }

    [Fact]
    public void KindsAreRegisteredOnceAndTheirBlocksBelongToThem()
    {
        Assert.Throws<UltraMemException>(() => SlotKinds.Register(ToyLookupKind.Instance));
        var e = Assert.Throws<UltraMemException>(() =>
            ModelConfig.FromJson("""{"memory_layers":[{"kind":"pkm","read_at":0,"add_after":0,"toy":{"rows":4}}]}""", "cfg.json")
        );
        Assert.Contains("'toy' block", e.Message);
        var twice = Assert.Throws<UltraMemException>(() =>
            ModelConfig.FromJson("""{"memory_layers":[{"kind":"moe","read_at":0,"add_after":0,"moe":{},"peer":{}}]}""", "cfg.json")
        );
        Assert.Contains("two settings blocks", twice.Message);
    }
}
