using System.Text.Json;
using UltraMem.IO;
using UltraMem.Layers.Memory;
using UltraMem.Model;
using UltraMem.Training;

namespace UltraMem.Tests.IO;

/// <summary><c>--set path=value</c>: paths into the JSON of the config records, values as JSON or text, one-line errors.</summary>
public class JsonOverridesTests
{
    static readonly (string Name, Type Type)[] Roots = { ("model", typeof(ModelConfig)), ("train", typeof(TrainConfig)) };

    /// <summary>Two ultramem layers: the first with a memory block, the second without (null: the kind's defaults).</summary>
    static ModelConfig TwoLayers() =>
        new()
        {
            MemoryLayers =
            {
                new SlotPlacement
                {
                    Kind = "ultramem",
                    ReadAt = 0,
                    AddAfter = 2,
                    Memory = new MemoryConfig { NKeys = 32, TopM = 8 },
                },
                new SlotPlacement
                {
                    Kind = "ultramem",
                    ReadAt = 1,
                    AddAfter = 3,
                },
            },
        };

    /// <summary>The specs applied in order to <paramref name="config"/>'s JSON, read back (and validated) by the record.</summary>
    static T Apply<T>(T config, Func<string, T> fromJson, params string[] specs)
    {
        var node = JsonSerializer.SerializeToNode(config, ModelConfig.Json)!;
        foreach (var spec in specs)
        {
            var (path, value) = JsonOverrides.Split(spec);
            JsonOverrides.Set(node, typeof(T), path, value, ModelConfig.Json, SlotPlacementJson.Members);
        }
        return fromJson(node.ToJsonString(ModelConfig.Json));
    }

    static ModelConfig Model(ModelConfig config, params string[] specs) => Apply(config, j => ModelConfig.FromJson(j), specs);

    static TrainConfig Train(params string[] specs) => Apply(new TrainConfig(), j => TrainConfig.FromJson(j, "test"), specs);

    static string Error(Action a) => Assert.Throws<UltraMemException>(a).Message;

    [Fact]
    public void SetsANestedFieldThroughAListIndex()
    {
        var c = Model(TwoLayers(), "memory_layers[0].memory.top_m=32", "memory_layers[1].kind=pkm", "rope_theta=500000");
        Assert.Equal(32, c.MemoryLayers[0].Memory!.TopM);
        Assert.Equal(32, c.MemoryLayers[0].Memory!.NKeys); // the rest of the block is kept
        Assert.Equal("pkm", c.MemoryLayers[1].Kind);
        Assert.Null(c.MemoryLayers[1].Memory);
        Assert.Equal(500000.0, c.RopeTheta);
        Assert.Equal(TwoLayers() with { MemoryLayers = c.MemoryLayers, RopeTheta = 500000 }, c);
    }

    [Fact]
    public void FieldsThatAreNullAndThereforeNotWrittenCanBeSet()
    {
        Assert.DoesNotContain("ffn_hidden", new ModelConfig().ToJson());
        Assert.Equal(96, Model(new ModelConfig(), "ffn_hidden=96").FfnHidden);
        Assert.Equal(64, Train("seq_len=64", "warmup_steps=5").SeqLen);
        Assert.Null(Model(new ModelConfig { FfnHidden = 96 }, "ffn_hidden=null").FfnHidden);
    }

    [Fact]
    public void ANullBlockIsRefusedFieldByFieldAndCanBeSetWhole()
    {
        string e = Error(() => Model(TwoLayers(), "memory_layers[1].memory.top_m=32"));
        Assert.Contains("memory_layers[1].memory is null", e);
        Assert.Contains("""'memory_layers[1].memory={"top_m":32}'""", e);
        Assert.DoesNotContain("\n", e);
        var c = Model(TwoLayers(), """memory_layers[1].memory={"n_keys":64}""", "memory_layers[1].memory.top_m=4");
        Assert.Equal(64, c.MemoryLayers[1].Memory!.NKeys);
        Assert.Equal(4, c.MemoryLayers[1].Memory!.TopM);
    }

    [Fact]
    public void AnUnknownSegmentIsNamedWithTheValidNamesAtItsLevel()
    {
        string top = Error(() => Model(new ModelConfig(), "colour=3"));
        var names = JsonOverrides.Names(typeof(ModelConfig), ModelConfig.Json);
        Assert.Equal($"unknown field 'colour' (valid: {string.Join(", ", names)})", top);
        Assert.StartsWith("unknown field 'colour' (valid: vocab_size, d_model, n_layers", top);
        string nested = Error(() => Model(TwoLayers(), "memory_layers[0].memory.topm=3"));
        Assert.StartsWith("unknown field 'topm' in memory_layers[0].memory (valid: n_keys, heads, top_m,", nested);
        Assert.Contains(
            "memory_layers is a list: index it first, e.g. memory_layers[0].kind",
            Error(() => Model(TwoLayers(), "memory_layers.kind=pkm"))
        );
        Assert.Contains("d_model is an integer, not an object", Error(() => Model(TwoLayers(), "d_model.x=1")));
        Assert.Contains("'warmup_resolved' is derived from other fields and cannot be set", Error(() => Train("warmup_resolved=3")));
    }

    [Fact]
    public void AnIndexOutOfRangeNamesTheListLength()
    {
        Assert.Equal(
            "index 2 in memory_layers[2] is out of range: memory_layers has 2 elements",
            Error(() => Model(TwoLayers(), "memory_layers[2].kind=pkm"))
        );
        Assert.Contains("memory_layers has 0 elements", Error(() => Model(new ModelConfig(), "memory_layers[0].memory.top_m=32")));
        Assert.Contains("d_model is an integer, not a list", Error(() => Model(new ModelConfig(), "d_model[0]=1")));
        foreach (var bad in new[] { "memory_layers[x].kind=pkm", "memory_layers[-1].kind=pkm", "a..b=1", "[0]=1", "d_model.=1", "x[0=1" })
            Assert.StartsWith("bad path", Error(() => Model(TwoLayers(), bad)));
    }

    [Fact]
    public void AValueOfTheWrongTypeIsRefused()
    {
        Assert.Equal("d_model takes an integer (got \"abc\")", Error(() => Model(new ModelConfig(), "d_model=abc")));
        Assert.Equal("d_model takes an integer (got 1.5)", Error(() => Model(new ModelConfig(), "d_model=1.5")));
        Assert.Equal("d_model takes an integer (got null)", Error(() => Model(new ModelConfig(), "d_model=null")));
        Assert.Equal("tie_embeddings takes true or false (got \"yes\")", Error(() => Model(new ModelConfig(), "tie_embeddings=yes")));
        Assert.Equal("ffn_hidden takes an integer or null (got \"wide\")", Error(() => Model(new ModelConfig(), "ffn_hidden=wide")));
        Assert.Equal("seed takes a non-negative integer (got -1)", Error(() => Train("seed=-1")));
        Assert.Equal("ffn takes one of swiglu, none (got null)", Error(() => Model(new ModelConfig(), "ffn=null")));
        Assert.Contains(
            "memory_layers[0].memory cannot take {\"top_m\":\"x\"}",
            Error(() => Model(TwoLayers(), """memory_layers[0].memory={"top_m":"x"}"""))
        );
        Assert.Contains("'topm' could not be mapped", Error(() => Model(TwoLayers(), """memory_layers[0].memory={"topm":1}""")));
        Assert.Contains("is not valid JSON", Error(() => Model(TwoLayers(), "memory_layers[0].memory={n_keys:64}")));
    }

    [Fact]
    public void AValueIsJsonIfItParsesElseAString()
    {
        var c = Model(
            TwoLayers(),
            "memory_layers[0].memory.query_norm=none",
            "ffn=\"none\"",
            "rope_theta=1e6",
            "tie_embeddings=false",
            "memory_layers[0].memory.value_dim=null",
            """memory_layers[1]={"kind":"swiglu","read_at":1,"add_after":1}"""
        );
        Assert.Equal(UltraMem.Layers.Memory.QueryNorm.None, c.MemoryLayers[0].Memory!.QueryNorm);
        Assert.Equal(FfnKind.None, c.Ffn);
        Assert.Equal(1e6, c.RopeTheta);
        Assert.False(c.TieEmbeddings);
        Assert.Equal("swiglu", c.MemoryLayers[1].Kind);
        Assert.Empty(Model(TwoLayers(), "memory_layers=[]").MemoryLayers);
        Assert.Equal("./texts", Train("corpus=./texts").Corpus);
        Assert.Equal("2024", Train("corpus=2024").Corpus); // a number for a string field: the text as typed
        Assert.Equal("a=b", Train("corpus=a=b").Corpus); // split at the first '='
        Assert.Equal(1e-3, Train("learning_rate=1e-3").LearningRate);
        Assert.Equal("'d_model' has no '=': expected PATH=VALUE, e.g. d_model=192", Error(() => JsonOverrides.Split("d_model")));
        Assert.Contains("no path before '='", Error(() => JsonOverrides.Split("=3")));
    }

    [Fact]
    public void OverridesApplyLeftToRightAndTheRecordValidatesTheResult()
    {
        Assert.Equal(256, Model(new ModelConfig(), "d_model=192", "d_model=256").DModel);
        Assert.Equal(96, Model(new ModelConfig(), "ffn_hidden=null", "ffn_hidden=96").FfnHidden);
        var c = Model(new ModelConfig(), "n_heads=6", "d_model=192"); // invalid in between (256 / 6), valid at the end
        Assert.Equal((192, 6), (c.DModel, c.NHeads));
        Assert.Contains("n_heads (5) must divide d_model (256)", Error(() => Model(new ModelConfig(), "n_heads=5")));
        Assert.Contains("memory_layers[0].memory", Error(() => Model(TwoLayers(), "memory_layers[0].memory.top_m=0")));
    }

    [Fact]
    public void ModelAndTrainConfigShareNoTopLevelName()
    {
        var model = JsonOverrides.Names(typeof(ModelConfig), ModelConfig.Json);
        var train = JsonOverrides.Names(typeof(TrainConfig), ModelConfig.Json);
        Assert.Contains("memory_layers", model);
        Assert.Contains("learning_rate", train);
        Assert.Empty(model.Intersect(train)); // else an unprefixed --set of that name is refused as ambiguous
    }

    [Fact]
    public void APathIsLookedUpInTheModelThenTheTrainConfigAndPrefixesPickOne()
    {
        Assert.Equal((0, "memory_layers[0].memory.top_m"), JsonOverrides.Route("memory_layers[0].memory.top_m", Roots, ModelConfig.Json));
        Assert.Equal((1, "learning_rate"), JsonOverrides.Route("learning_rate", Roots, ModelConfig.Json));
        Assert.Equal((1, "seed"), JsonOverrides.Route("train.seed", Roots, ModelConfig.Json));
        Assert.Equal((0, "d_model"), JsonOverrides.Route("model.d_model", Roots, ModelConfig.Json));
        string unknown = Error(() => JsonOverrides.Route("colour", Roots, ModelConfig.Json));
        Assert.StartsWith("unknown setting 'colour' (model: vocab_size, d_model,", unknown);
        Assert.Contains("; train: corpus, tokenizer_vocab_size,", unknown);
        var twins = new[] { ("a", typeof(ModelConfig)), ("b", typeof(ModelConfig)) };
        Assert.Equal(
            "'d_model' is a field of a and b; prefix it: a.d_model or b.d_model",
            Error(() => JsonOverrides.Route("d_model", twins, ModelConfig.Json))
        );
        Assert.Equal((1, "d_model"), JsonOverrides.Route("b.d_model", twins, ModelConfig.Json));
    }
}
