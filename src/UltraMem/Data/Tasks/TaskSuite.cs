using System.Text.Json;

namespace UltraMem.Data.Tasks;

/// <summary>
/// The task suite (docs/tasks.md): one generator per task, sized so that an example fits the tiny family's 128-token
/// context, a training corpus of their examples, and held-out examples for evaluation. Training examples come from the
/// stream of <c>seed</c>, held-out ones from another stream (<see cref="HeldOutSeed"/>), so the two never share an example —
/// except <c>knowledge</c>, whose questions are the facts of the one base by design.
/// </summary>
public static class TaskSuite
{
    /// <summary>The suite's tasks by name, at the default sizes (filler: sentences for <c>needle</c>).</summary>
    public static IReadOnlyList<SyntheticTask> Default(IReadOnlyList<string> filler) =>
        new SyntheticTask[]
        {
            new KeyValueRetrievalTask(6),
            new NeedleTask(filler, 2),
            new MultiRoundTask(4, 4),
            new FewShotFunctionTask(6),
            new MultiHopTask(6, 2),
            new KnowledgeTask(200, 1),
        };

    /// <summary>The stream the held-out examples of <paramref name="seed"/> come from.</summary>
    public static ulong HeldOutSeed(ulong seed) => SplitMix64.Mix(seed ^ 0xE7A1_0000_0000_0001UL);

    /// <summary>
    /// Writes a JSONL corpus (<c>id</c>, <c>text</c>) of <paramref name="documents"/> documents, each holding
    /// <paramref name="examplesPerDocument"/> examples of the tasks in turn, one per line; the corpus any command reads with
    /// <c>--corpus</c>.
    /// </summary>
    public static void WriteCorpus(string path, IReadOnlyList<SyntheticTask> tasks, ulong seed, int documents, int examplesPerDocument)
    {
        if (tasks.Count == 0 || documents < 1 || examplesPerDocument < 1)
            throw new UltraMemException("a task corpus needs at least one task, document and example per document");
        IO.AtomicFile.Write(
            path,
            stream =>
            {
                using var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(false), 1 << 16, leaveOpen: true);
                long index = 0;
                for (int d = 0; d < documents; d++)
                {
                    var text = new System.Text.StringBuilder();
                    for (int e = 0; e < examplesPerDocument; e++, index++)
                        text.Append(tasks[(int)(index % tasks.Count)].Example(seed, index / tasks.Count).Text);
                    writer.WriteLine(JsonSerializer.Serialize(new { id = $"tasks-{d:D6}", text = text.ToString() }));
                }
            }
        );
    }

    /// <summary>Held-out example <paramref name="index"/> of <paramref name="task"/> for training seed <paramref name="seed"/>.</summary>
    public static TaskExample HeldOut(SyntheticTask task, ulong seed, long index) => task.Example(HeldOutSeed(seed), index);
}
