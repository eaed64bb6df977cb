using TorchSharp;
using UltraMem.Model;
using UltraMem.Training;
using static TorchSharp.torch;

namespace UltraMem.Tests.Training;

public class TrainerTests
{
    static ModelConfig Micro =>
        new()
        {
            DModel = 32,
            NLayers = 2,
            NHeads = 2,
            MaxSeqLen = 32,
            Dropout = 0.1,
        };

    static TrainConfig MicroTrain(string corpus, long steps) =>
        new()
        {
            Corpus = corpus,
            TokenizerVocabSize = 320,
            ValidationFraction = 0.2,
            BatchSize = 4,
            SeqLen = 32,
            MaxSteps = steps,
            GradAccum = 2,
            LearningRate = 3e-3,
            EvalInterval = 3,
            EvalBatches = 2,
            CheckpointInterval = 4,
            Seed = 99,
            Threads = 1,
        };

    [Fact]
    public void ResumingFromACheckpointReproducesTheUninterruptedRun()
    {
        string root = TestData.TempDir();
        string corpus = TestData.CorpusFolder(root);
        string cache = Path.Combine(root, "cache");
        TrainRequest Request(string run, bool resume = false, long? stop = null) =>
            new()
            {
                RunDir = Path.Combine(root, run),
                Model = Micro,
                Train = MicroTrain(corpus, 10),
                CacheDir = cache,
                Resume = resume,
                StopAfterStep = stop,
                ShowProgress = false,
                Log = _ => { },
            };
        var straight = Trainer.Run(Request("a"));
        var first = Trainer.Run(Request("b", stop: 6)); // stops mid-run (not on a checkpoint-interval step)
        Assert.Equal(6, first.Step);
        var resumed = Trainer.Run(Request("b", resume: true));
        Assert.Equal(10, resumed.Step);

        static List<(long, string, double)> Losses(TrainResult r) => r.Metrics.Select(m => (m.Step, m.Split, m.Values["loss"])).ToList();
        Assert.Equal(Losses(straight), Losses(resumed)); // bitwise equal, train and validation, every step
        Assert.Equal(straight.FinalValidationLoss, resumed.FinalValidationLoss);

        using var a = Checkpoint.Open(straight.RunDir).LoadModel();
        using var b = Checkpoint.Open(resumed.RunDir).LoadModel();
        var pb = b.state_dict();
        foreach (var (name, t) in a.state_dict())
            Assert.True(t.equal(pb[name]).all().item<bool>(), $"{name} differs");
        Assert.True(File.Exists(Path.Combine(straight.RunDir, "loss.png")));
        Assert.True(File.Exists(Path.Combine(straight.RunDir, "metrics.csv")));
    }

    [Fact]
    public void AFreshRunRefusesToOverwriteAnExistingRun()
    {
        string root = TestData.TempDir();
        string corpus = TestData.CorpusFolder(root, 8);
        var req = new TrainRequest
        {
            RunDir = Path.Combine(root, "run"),
            Model = Micro,
            Train = MicroTrain(corpus, 2),
            CacheDir = Path.Combine(root, "cache"),
            ShowProgress = false,
            Log = _ => { },
        };
        Trainer.Run(req);
        string latest = File.ReadAllText(Path.Combine(req.RunDir, "checkpoints", "latest"));
        var e = Assert.Throws<UltraMemException>(() =>
        {
            Trainer.Run(req);
        });
        Assert.Contains("--resume", e.Message);
        Assert.Equal(latest, File.ReadAllText(Path.Combine(req.RunDir, "checkpoints", "latest")));
    }

    [Theory]
    [InlineData(1e30, 0.0)] // weights overflow to infinity and NaN: caught before the checkpoint of that step
    [InlineData(1e30, 1.0)] // the gradient norm is not finite: the update is refused
    [InlineData(30.0, 1.0)] // finite but exploding: the loss stays far above a uniform guess
    public void ADivergedRunStopsAndLatestHoldsFiniteWeights(double lr, double clip)
    {
        string root = TestData.TempDir();
        var req = new TrainRequest
        {
            RunDir = Path.Combine(root, "run"),
            Model = Micro,
            CacheDir = Path.Combine(root, "cache"),
            ShowProgress = false,
            Log = _ => { },
            Train = MicroTrain(TestData.CorpusFolder(root), 200) with
            {
                LearningRate = lr,
                GradClip = clip,
                CheckpointInterval = 1,
                EvalInterval = 1000,
                GradAccum = 1,
            },
        };
        var e = Assert.Throws<UltraMemException>(() => Trainer.Run(req));
        Assert.Contains("diverged", e.Message);
        if (File.Exists(Path.Combine(req.RunDir, "checkpoints", "latest")))
        {
            using var model = Checkpoint.Open(req.RunDir).LoadModel();
            Assert.All(model.parameters(), p => Assert.True(p.isfinite().all().item<bool>()));
        }
    }

    [Fact]
    public void ASecondWriterOfTheSameRunFolderIsRefused()
    {
        string root = TestData.TempDir();
        TrainRequest Request(bool resume) =>
            new()
            {
                RunDir = Path.Combine(root, "run"),
                Model = Micro,
                Train = MicroTrain(TestData.CorpusFolder(root), 2),
                CacheDir = Path.Combine(root, "cache"),
                Resume = resume,
                ShowProgress = false,
                Log = _ => { },
            };
        Trainer.Run(Request(resume: false));
        using (UltraMem.IO.FolderLock.Acquire(Path.Combine(root, "run"), "ultramem train")) // another process's train
            Assert.Contains("another `ultramem train` is working", Assert.Throws<UltraMemException>(() => Trainer.Run(Request(true))).Message);
        Trainer.Run(Request(resume: true)); // the lock is gone with its holder
    }

    [Fact]
    public void ATinyModelOverfitsAShortText()
    {
        torch.manual_seed(0);
        var config = new ModelConfig
        {
            VocabSize = 64,
            DModel = 64,
            NLayers = 2,
            NHeads = 4,
            MaxSeqLen = 64,
            Dropout = 0,
        };
        using var model = new TransformerLM(config);
        var rng = new Random(3);
        var seq = Enumerable.Range(0, 49).Select(_ => (long)rng.Next(64)).ToArray(); // random tokens: only memorisation helps
        var x = tensor(seq[..48]).unsqueeze(0);
        var y = tensor(seq[1..]).unsqueeze(0);
        using var opt = new UltraMem.Training.AdamW(ParameterGroups.Build(model, 0.0));
        float loss = 0;
        for (int i = 0; i < 150; i++)
        {
            using var scope = NewDisposeScope();
            var l = TransformerLM.CrossEntropy(model.forward(x), y);
            l.backward();
            opt.Step(3e-3);
            opt.ZeroGrad();
            loss = l.item<float>();
        }
        Assert.True(loss < 0.05f, $"final loss {loss} (uniform would be {Math.Log(64):F2})");
    }
}
