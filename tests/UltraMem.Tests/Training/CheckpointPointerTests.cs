using UltraMem.Model;
using UltraMem.Training;

namespace UltraMem.Tests.Training;

/// <summary>The pointer to the newest checkpoint under careless and hostile conditions: it never strands a run.</summary>
public class CheckpointPointerTests
{
    static TrainRequest Request(string root, long steps, bool resume) =>
        new()
        {
            RunDir = Path.Combine(root, "run"),
            Model = new ModelConfig
            {
                DModel = 32,
                NLayers = 2,
                NHeads = 2,
                MaxSeqLen = 32,
            },
            Train = new TrainConfig
            {
                Corpus = TestData.CorpusFolder(root),
                TokenizerVocabSize = 320,
                ValidationFraction = 0.2,
                BatchSize = 2,
                SeqLen = 16,
                MaxSteps = steps,
                EvalInterval = 100,
                EvalBatches = 1,
                CheckpointInterval = 1,
                KeepCheckpoints = 3,
                Threads = 1,
            },
            CacheDir = Path.Combine(root, "cache"),
            Resume = resume,
            ShowProgress = false,
            Log = _ => { },
        };

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mkfifo")]
    static extern int MakeFifo(string path, uint mode);

    [Fact]
    public async Task ABadPointerFallsBackToTheNewestCompleteCheckpointByStepNumber()
    {
        string root = TestData.TempDir();
        Trainer.Run(Request(root, 2, resume: false));
        string checkpoints = Path.Combine(root, "run", "checkpoints");
        string pointer = Path.Combine(checkpoints, "latest");
        // a step past 9,999,999 sorts before step-0000002 by name, after it by number
        Directory.Move(Path.Combine(checkpoints, "step-0000001"), Path.Combine(checkpoints, "step-10000000"));
        Directory.CreateDirectory(Path.Combine(checkpoints, "step-20000000")); // incomplete: a save killed half-way

        File.WriteAllText(pointer, "step-0000009\n"); // names nothing
        Assert.EndsWith("step-10000000", Checkpoint.Open(Path.Combine(root, "run")).Directory);

        File.Delete(pointer);
        File.CreateSymbolicLink(pointer, "/dev/zero"); // would never end if read whole
        Assert.EndsWith("step-10000000", Checkpoint.Open(Path.Combine(root, "run")).Directory);

        File.Delete(pointer);
        Assert.Equal(0, MakeFifo(pointer, 0b110_100_100)); // opening it would block until a writer appears
        Assert.Equal(UltraMem.Platform.FileKind.Special, UltraMem.Platform.FileKinds.Of(pointer));
        var open = Task.Run(() => Checkpoint.Open(Path.Combine(root, "run")).Directory);
        Assert.True(
            open == await Task.WhenAny(open, Task.Delay(TimeSpan.FromSeconds(20))),
            "opening the run blocked on a FIFO named latest"
        );
        Assert.EndsWith("step-10000000", await open);

        File.Delete(pointer);
        File.WriteAllText(pointer, new string('x', 100_000)); // not a folder name
        Assert.EndsWith("step-10000000", Checkpoint.Open(Path.Combine(root, "run")).Directory);

        File.WriteAllText(pointer, "step-20000000\n"); // names an incomplete folder
        Assert.EndsWith("step-10000000", Checkpoint.Open(Path.Combine(root, "run")).Directory);
    }

    [Fact]
    public void SavesSweepLeftoversPruneByStepAndKeepACompleteReSavedStep()
    {
        string root = TestData.TempDir();
        Trainer.Run(Request(root, 5, resume: false) with { StopAfterStep = 2 });
        string checkpoints = Path.Combine(root, "run", "checkpoints");
        string leftover = Path.Combine(checkpoints, ".step-0000005.tmp-0123456789abcdef");
        Directory.CreateDirectory(leftover); // a save killed before its rename
        File.WriteAllText(Path.Combine(leftover, "model.safetensors"), "partial");
        var before = File.GetLastWriteTimeUtc(Path.Combine(checkpoints, "step-0000002", "model.safetensors"));
        // resuming at step 2 and being interrupted at once re-saves step 2: the complete folder stays as it is
        var interrupted = Trainer.Run(Request(root, 5, resume: true) with { Cancel = new CancellationToken(canceled: true) });
        Assert.True(interrupted.Interrupted);
        Assert.EndsWith("step-0000002", interrupted.CheckpointDir);
        Assert.Equal(before, File.GetLastWriteTimeUtc(Path.Combine(checkpoints, "step-0000002", "model.safetensors")));
        Trainer.Run(Request(root, 5, resume: true));
        Assert.False(Directory.Exists(leftover));
        Assert.Equal(
            new[] { "step-0000003", "step-0000004", "step-0000005" },
            Directory.GetDirectories(checkpoints, "step-*").Select(Path.GetFileName).OrderBy(n => n)
        );
        Assert.Equal("step-0000005", File.ReadAllText(Path.Combine(checkpoints, "latest")).Trim());
    }
}
