using System.Text.Json.Nodes;
using UltraMem.Architectures;
using UltraMem.Model;
using UltraMem.Training;

namespace UltraMem.Tests.Structure;

/// <summary>Configs are resolved once, when a run starts: its model_config.json states every setting its layers use.</summary>
public sealed class ResolvedConfigTests
{
    static ModelConfig WithDefaults() =>
        new ModelConfig
        {
            VocabSize = 300,
            DModel = 32,
            NLayers = 4,
            NHeads = 2,
            MaxSeqLen = 32,
            Dropout = 0,
        } with
        {
            MemoryLayers = new()
            {
                SlotPlacement.Parse("0!", "moe"),
                SlotPlacement.Parse("1", "ultramemv2"),
                SlotPlacement.Parse("2", "peer"),
                SlotPlacement.Parse("1:3", "ultramem"),
                SlotPlacement.Parse("3", "swiglu"),
            },
        };

    [Fact]
    public void ResolvingFillsWhatTheLayersUseAndIsAFixedPoint()
    {
        var config = WithDefaults();
        var resolved = config.Resolve();
        Assert.All(resolved.MemoryLayers, p => Assert.NotNull(p.Settings));
        Assert.Equal(resolved.ToJson(), resolved.Resolve().ToJson());
        Assert.Equal(resolved.ToJson(), ModelConfig.FromJson(resolved.ToJson(), "again").Resolve().ToJson());
        Assert.Equal(ModelAccounting.Report(config), ModelAccounting.Report(resolved));
        using var model = new TransformerLM(config);
        Assert.Equal(resolved.ToJson(), model.Config.ToJson());
        Assert.Equal(resolved.MemoryLayers[1].Memory, ((UltraMem.Layers.Memory.MemoryLayer)model.memory_layers[1]).Options);
        // explicit settings stay as they were; only what was left open is filled in
        var ladder = MemoryPresets.Apply(config with { MemoryLayers = new() }, "ultramem");
        var filled = ladder.Resolve().MemoryLayers[0].Memory!;
        Assert.Equal(ladder.MemoryLayers[0].Memory! with { CoarseTop = filled.TopM }, filled);
    }

    [Fact]
    public void AFreshRunFolderStatesEveryMemoryMoeAndPeerSetting()
    {
        string root = TestData.TempDir();
        var result = Trainer.Run(
            new TrainRequest
            {
                RunDir = Path.Combine(root, "run"),
                Model = WithDefaults(),
                CacheDir = Path.Combine(root, "cache"),
                ShowProgress = false,
                Log = _ => { },
                Train = new TrainConfig
                {
                    Corpus = TestData.CorpusFolder(root),
                    TokenizerVocabSize = 300,
                    ValidationFraction = 0.2,
                    BatchSize = 2,
                    SeqLen = 16,
                    MaxSteps = 1,
                    EvalInterval = 1,
                    EvalBatches = 1,
                    CheckpointInterval = 1,
                    Threads = 1,
                },
            }
        );
        string json = File.ReadAllText(Path.Combine(result.RunDir, Checkpoint.ModelConfigFile));
        var layers = JsonNode.Parse(json)!["memory_layers"]!.AsArray();
        Assert.NotNull(layers[0]!["moe"]!["expert_hidden"]);
        Assert.NotNull(layers[1]!["memory"]!["value_dim"]);
        Assert.NotNull(layers[1]!["memory"]!["coarse_top"]);
        Assert.NotNull(layers[2]!["peer"]!["n_keys"]);
        Assert.NotNull(layers[3]!["memory"]!["coarse_top"]);
        Assert.NotNull(layers[4]!["hidden"]);
        Assert.Equal(json, ModelConfig.FromJson(json, "run").Resolve().ToJson()); // nothing left to fill in
        Assert.Equal(json, Checkpoint.Open(result.RunDir).ModelConfig.ToJson());
    }
}
