using System.Text.Json;
using UltraMem.IO;
using UltraMem.Model;

namespace UltraMem.Training;

/// <summary>
/// Why a resumed run would not be the run it continues: the fields in which the requested configs differ from the
/// run's, comparing <b>resolved</b> model configs (<see cref="ModelConfig.Resolve"/>), so that naming the run's own
/// preset or settings again is no difference, while any real change is refused by name.
/// </summary>
/// <param name="Config"><c>model</c> or <c>train</c>.</param>
/// <param name="Field">The JSON path of the field (e.g. <c>batch_size</c>, <c>memory_layers[0].memory.top_m</c>).</param>
/// <param name="Run">Its value in the run.</param>
/// <param name="Requested">Its value as requested.</param>
public sealed record RunDifference(string Config, string Field, string Run, string Requested)
{
    public override string ToString() => $"{Field} is {Run} in the run, {Requested} requested";

    /// <summary>
    /// The differences between the run's configs and the requested ones; <paramref name="model"/> null: the model is not
    /// being chosen again (only the training config is compared). The vocabulary size always comes from the run's tokenizer.
    /// </summary>
    public static IReadOnlyList<RunDifference> Between(ResumePoint run, ModelConfig? model, TrainConfig train)
    {
        var list = new List<RunDifference>();
        if (model is not null)
        {
            var a = run.ModelConfig.Resolve();
            var b = (model with { VocabSize = a.VocabSize }).Resolve();
            list.AddRange(
                JsonDiff
                    .Fields(JsonSerializer.SerializeToNode(a, ModelConfig.Json), JsonSerializer.SerializeToNode(b, ModelConfig.Json))
                    .Select(d => new RunDifference("model", d.Path, d.A, d.B))
            );
        }
        list.AddRange(
            JsonDiff
                .Fields(
                    JsonSerializer.SerializeToNode(run.TrainConfig, ModelConfig.Json),
                    JsonSerializer.SerializeToNode(train, ModelConfig.Json)
                )
                .Select(d => new RunDifference("train", d.Path, d.A, d.B))
        );
        return list;
    }
}
