using System.CommandLine;
using UltraMem.Data.Tasks;
using UltraMem.Inference;
using UltraMem.Training;

namespace UltraMem.Cli.Commands;

/// <summary><c>ultramem tasks make|eval</c>: the synthetic task suite (docs/tasks.md).</summary>
static class TasksCommand
{
    public static Command Create() =>
        new(
            "tasks",
            "Synthetic tasks (KV retrieval, needle, multi-round, in-context, multi-hop, knowledge): write a training corpus, or score a checkpoint on held-out examples."
        )
        {
            Make(),
            Eval(),
        };

    static Command Make()
    {
        var output = new Option<string>("--out")
        {
            Description = "The JSONL corpus to write (train on it with --corpus).",
            Required = true,
        };
        var seed = Cli.Opt("--seed", "Seed of the training examples.", 1UL, true);
        var documents = Cli.Opt("--documents", "Documents in the corpus.", 2000, true);
        var perDocument = Cli.Opt("--examples-per-document", "Examples per document (the tasks in turn, one per line).", 12, true);
        var cmd = new Command("make", "Write a training corpus of task examples.") { output, seed, documents, perDocument };
        cmd.SetAction(r =>
        {
            int docs = r.GetValue(documents),
                each = r.GetValue(perDocument);
            if (docs < 1 || docs > 10_000_000)
                throw new UltraMemException($"--documents must be in 1..10,000,000 (got {docs})");
            if (each < 1 || each > 10_000)
                throw new UltraMemException($"--examples-per-document must be in 1..10,000 (got {each})");
            string path = r.GetValue(output)!;
            var tasks = TaskSuite.Default(FillerSentences.Brown());
            TaskSuite.WriteCorpus(path, tasks, r.GetValue(seed), docs, each);
            Console.WriteLine($"wrote {path}: {docs:N0} documents × {each} examples of {string.Join(", ", tasks.Select(t => t.Name))}");
            return 0;
        });
        return cmd;
    }

    static Command Eval()
    {
        var checkpoint = new Option<string>("--checkpoint")
        {
            Description = "Run folder (its latest checkpoint) or checkpoint folder.",
            Required = true,
        };
        var seed = Cli.Opt("--seed", "The training seed of `tasks make` (held-out examples come from another stream of it).", 1UL, true);
        var examples = Cli.Opt("--examples", "Held-out examples per task.", 200, true);
        var device = Cli.Device();
        var cmd = new Command("eval", "Score a checkpoint on held-out task examples: exact match and loss on the answer tokens.")
        {
            checkpoint,
            seed,
            examples,
            device,
        };
        cmd.SetAction(r =>
        {
            var dev = Platform.Devices.Parse(r.GetValue(device)!);
            int n = r.GetValue(examples);
            if (n < 1 || n > 1_000_000)
                throw new UltraMemException($"--examples must be in 1..1,000,000 (got {n})");
            var ckpt = Checkpoint.Open(r.GetValue(checkpoint)!);
            var tok = ckpt.LoadTokenizer();
            InferenceMemory.EnsureFits(
                $"scoring {ckpt.Directory}",
                ckpt.ModelConfig,
                InferenceMemory.EvaluationBytes(ckpt.ModelConfig, 1, ckpt.ModelConfig.MaxSeqLen),
                Platform.MachineMemory.AvailableBytes()
            );
            using var model = ckpt.LoadModel().ToDevice(dev);
            model.eval();
            Console.WriteLine($"checkpoint {ckpt.Directory} (step {ckpt.State.Step}); {n} held-out examples per task");
            Console.WriteLine($"{"task", -14} {"exact match", 12} {"answer loss", 12} {"answer tokens", 14}");
            foreach (var task in TaskSuite.Default(FillerSentences.Brown()))
            {
                var scores = Enumerable
                    .Range(0, n)
                    .Select(i => AnswerScore.Of(model, tok, TaskSuite.HeldOut(task, r.GetValue(seed), i)))
                    .ToList();
                Console.WriteLine(
                    $"{task.Name, -14} {scores.Count(s => s.Correct) / (double)n, 12:P1} {scores.Average(s => s.Loss), 12:F3} {scores.Average(s => s.AnswerTokens), 14:F1}"
                );
            }
            return 0;
        });
        return cmd;
    }
}
