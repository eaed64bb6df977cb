using UltraMem.Model;
using UltraMem.Training;

namespace UltraMem.Tests.Model;

/// <summary>Config files a careless or hostile user writes: each is refused with one message naming the problem.</summary>
public class StrictJsonTests
{
    [Theory]
    [InlineData("""{ "d_model": 64, "d_model": 128 }""", "key 'd_model' appears twice in $")]
    [InlineData(
        """{ "memory_layers": [ { "kind": "moe", "read_at": 0, "add_after": 0, "moe": { "experts": 4, "experts": 8 } } ] }""",
        "appears twice"
    )]
    [InlineData("""{ "rope_theta": 1e999 }""", "$.rope_theta = 1e999 is outside the range of a number")]
    [InlineData("""{ "memory_layers": null }""", "$.memory_layers: null is not allowed here")]
    [InlineData("""{ "d_model": null }""", "$.d_model: expected an integer")]
    [InlineData("""{ "memory_layers": [ null ] }""", "$.memory_layers[0] is null: a list holds values, not nulls")] // was a NullReferenceException
    [InlineData("""{ "d_model": "wide" }""", "$.d_model: expected an integer")] // not "could not be converted to System.Int32"
    [InlineData("""{ "tie_embeddings": 3 }""", "$.tie_embeddings: expected true or false")]
    [InlineData("""{ "memory_layers": {} }""", "$.memory_layers: expected a list")]
    public void BadModelConfigsAreRefusedByName(string json, string expected)
    {
        var e = Assert.Throws<UltraMemException>(() => ModelConfig.FromJson(json, "cfg.json"));
        Assert.StartsWith("cfg.json: invalid model config JSON: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("""{ "corpus": null }""", "corpus")]
    [InlineData("""{ "learning_rate": -1e400 }""", "outside the range")]
    [InlineData("""{ "max_steps": 5, "max_steps": 6 }""", "appears twice")]
    public void BadTrainConfigsAreRefusedByName(string json, string expected)
    {
        var e = Assert.Throws<UltraMemException>(() => TrainConfig.FromJson(json, "train.json"));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void CommentsTrailingCommasAndLargeFiniteNumbersStillRead()
    {
        var c = ModelConfig.FromJson("{ // a comment\n \"rope_theta\": 1e300, \"d_model\": 64, }", "cfg.json");
        Assert.Equal(1e300, c.RopeTheta);
    }
}
