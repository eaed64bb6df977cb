using UltraMem.Data.Tasks;
using UltraMem.Inference;
using UltraMem.Model;
using UltraMem.Training;

namespace UltraMem.Tests.Data;

/// <summary>The whole loop — task corpus, training, held-out scoring — works: a small model learns an easy task.</summary>
public class TaskLearningTests
{
    [Fact]
    public void ASmallModelLearnsAFewFactsToHighAccuracy()
    {
        string root = TestData.TempDir();
        var task = new KnowledgeTask(Entities: 4, KnowledgeSeed: 3); // 16 facts: 100 % at 1000 steps, 38 % at 600 (memorising starts late)
        string corpus = Path.Combine(root, "tasks.jsonl");
        TaskSuite.WriteCorpus(corpus, new[] { task }, seed: 1, documents: 400, examplesPerDocument: 8);
        var result = Trainer.Run(
            new TrainRequest
            {
                RunDir = Path.Combine(root, "run"),
                Model = new ModelConfig
                {
                    DModel = 64,
                    NLayers = 2,
                    NHeads = 2,
                    MaxSeqLen = 32,
                },
                Train = new TrainConfig
                {
                    Corpus = corpus,
                    TokenizerVocabSize = 320,
                    ValidationFraction = 0.1,
                    BatchSize = 8,
                    SeqLen = 32,
                    MaxSteps = 1000,
                    LearningRate = 3e-3,
                    EvalInterval = 1000,
                    CheckpointInterval = 1000,
                    Threads = 1,
                },
                CacheDir = Path.Combine(root, "cache"),
                ShowProgress = false,
                Log = _ => { },
            }
        );
        var ckpt = Checkpoint.Open(result.RunDir);
        using var model = ckpt.LoadModel();
        model.eval();
        var tok = ckpt.LoadTokenizer();
        var scores = Enumerable.Range(0, task.Facts).Select(i => AnswerScore.Of(model, tok, TaskSuite.HeldOut(task, 1, i))).ToList();
        double accuracy = scores.Count(s => s.Correct) / (double)scores.Count;
        Console.WriteLine($"knowledge, 16 facts, 1000 steps: exact match {accuracy:P0}, answer loss {scores.Average(s => s.Loss):F3}");
        Assert.True(accuracy >= 0.9, $"exact match {accuracy:P0}");
    }
}
