using System.Diagnostics;
using UltraMem.Architectures;
using UltraMem.Model;
using UltraMem.Training;

namespace UltraMem.Tests.Cli;

/// <summary>Runs the real command-line tool in a child process, checking exit codes and one-line errors.</summary>
public sealed class CliFixture : IDisposable
{
    public string Root { get; } = TestData.TempDir();
    public string Corpus { get; }
    public string Cache { get; }
    public string Run { get; }

    public CliFixture()
    {
        Corpus = TestData.CorpusFolder(Root, 10);
        Cache = Path.Combine(Root, "cache");
        Run = Path.Combine(Root, "run");
        Trainer.Run(
            new TrainRequest
            {
                RunDir = Run,
                CacheDir = Cache,
                ShowProgress = false,
                Log = _ => { },
                Model = new ModelConfig
                {
                    DModel = 32,
                    NLayers = 2,
                    NHeads = 2,
                    MaxSeqLen = 32,
                },
                Train = new TrainConfig
                {
                    Corpus = Corpus,
                    TokenizerVocabSize = 300,
                    ValidationFraction = 0.2,
                    BatchSize = 4,
                    SeqLen = 32,
                    MaxSteps = 3,
                    EvalInterval = 3,
                    CheckpointInterval = 3,
                    Threads = 1,
                },
            }
        );
    }

    public (int Code, string Out, string Err) Invoke(params string[] args) => Start(null, null, null, args);

    /// <summary>Runs the tool in <paramref name="workingDirectory"/>.</summary>
    public (int Code, string Out, string Err) InvokeIn(string workingDirectory, params string[] args) =>
        Start(null, workingDirectory, null, args);

    /// <summary>Runs the tool with its address space limited to <paramref name="kilobytes"/> (bash's <c>ulimit -v</c>), so that
    /// an allocation fails the way it does on a machine out of memory.</summary>
    public (int Code, string Out, string Err) InvokeLimited(long kilobytes, params string[] args) => Start(null, null, kilobytes, args);

    /// <summary>Runs the tool; <paramref name="whileRunning"/> (if any) gets the process id and the stderr seen so far, polled.</summary>
    public (int Code, string Out, string Err) Invoke(Func<int, Func<string>, bool>? whileRunning, params string[] args) =>
        Start(whileRunning, null, null, args);

    (int Code, string Out, string Err) Start(
        Func<int, Func<string>, bool>? whileRunning,
        string? workingDirectory,
        long? addressSpaceKb,
        string[] args
    )
    {
        // with an address-space limit, through bash's ulimit (it then execs dotnet)
        var prefix = addressSpaceKb is { } kb ? new[] { "-c", $"ulimit -v {kb} && exec dotnet \"$@\"", "bash" } : [];
        return ChildProcess.Run(
            addressSpaceKb is null ? "dotnet" : "bash",
            [.. prefix, ChildProcess.ToolDll, .. args],
            new Dictionary<string, string> { ["ULTRAMEM_CACHE"] = Cache },
            workingDirectory,
            whileRunning
        );
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, true);
        }
        catch (IOException) { }
    }
}

public class CliTests : IClassFixture<CliFixture>
{
    readonly CliFixture _f;

    public CliTests(CliFixture f) => _f = f;

    void AssertOneLineError((int Code, string Out, string Err) r, string expected)
    {
        Assert.NotEqual(0, r.Code);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 1, "no error printed");
        Assert.StartsWith("ultramem: error: ", lines[^1]);
        Assert.Contains(expected, lines[^1]);
        Assert.DoesNotContain("   at ", r.Err); // no stack trace
    }

    [Fact]
    public void EveryCommandHasHelp()
    {
        foreach (var cmd in new[] { "train", "eval", "generate", "info", "demo", "compare" })
        {
            var r = _f.Invoke(cmd, "--help");
            Assert.Equal(0, r.Code);
            Assert.Contains("Usage", r.Out);
        }
    }

    [Fact]
    public void CompareRefusesBadOptionsBeforeCreatingAnything()
    {
        string folder = Path.Combine(_f.Root, "cmp");
        AssertOneLineError(_f.Invoke("compare", "--archs", "dense,gpt5", "--out", folder), "unknown architecture 'gpt5'");
        AssertOneLineError(
            _f.Invoke("compare", "--ladder", "--archs", "pkm,dense", "--out", folder),
            "'dense' is not a rung of the ablation ladder"
        );
        AssertOneLineError(_f.Invoke("compare", "--tokens", "lots", "--out", folder), "--tokens: 'lots' is not a positive token count");
        AssertOneLineError(
            _f.Invoke("compare", "--tokens", "1M", "--steps", "5", "--out", folder),
            "--tokens and --steps both set the budget"
        );
        AssertOneLineError(_f.Invoke("compare", "--seeds", "0", "--out", folder), "--seeds must be at least 1");
        AssertOneLineError(_f.Invoke("compare", "--report-only", "--out", folder), "holds no comparison");
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void MatchListsTheFamilyAndInfoConfirmsIt()
    {
        var r = _f.Invoke("match", "--preset", "tiny");
        Assert.Equal(0, r.Code);
        foreach (var arch in Families.Members)
            Assert.Contains(arch, r.Out);
        var info = _f.Invoke("info", "--preset", "tiny", "--arch", "moe");
        Assert.Equal(0, info.Code);
        Assert.Matches(@"matched family 'tiny': FLOPs/token (0\.99[5-9]|1\.00[0-5])x .*total parameters (0\.9[89]|1\.0[0-2])\dx", info.Out);
        AssertOneLineError(_f.Invoke("info", "--preset", "tiny", "--arch", "gpt5"), "unknown architecture 'gpt5'");
        AssertOneLineError(
            _f.Invoke("match", "--reference", Path.Combine(_f.Root, "missing.json"), "--arch", "moe"),
            "reference config not found"
        );
    }

    [Fact]
    public void ImpossibleConfigsFailWithAClearMessage()
    {
        AssertOneLineError(_f.Invoke("info", "--preset", "huge"), "unknown preset 'huge'");
        string cfg = Path.Combine(_f.Root, "bad-heads.json");
        File.WriteAllText(cfg, """{ "d_model": 100, "n_heads": 3 }""");
        AssertOneLineError(_f.Invoke("info", "--config", cfg), "n_heads (3) must divide d_model (100)");
        File.WriteAllText(cfg, """{ "d_model": -8 }""");
        AssertOneLineError(_f.Invoke("info", "--config", cfg), "d_model must be positive");
        File.WriteAllText(cfg, """{ "d_model": 64, "n_heads": 4, "colour": 3 }""");
        AssertOneLineError(_f.Invoke("info", "--config", cfg), "invalid model config JSON");
        AssertOneLineError(_f.Invoke("info", "--memory", "swiglu@7:2"), "memory_layers[0]");
        AssertOneLineError(_f.Invoke("info", "--config", Path.Combine(_f.Root, "nope.json")), "model config not found");
        AssertOneLineError(
            _f.Invoke("train", "--steps", "-5", "--out", Path.Combine(_f.Root, "neg"), "--corpus", _f.Corpus, "--vocab-size", "300"),
            "max_steps must be positive"
        );
        Assert.False(Directory.Exists(Path.Combine(_f.Root, "neg", "checkpoints")));
        AssertOneLineError(
            _f.Invoke(
                "train",
                "--value-updates",
                "sparse",
                "--out",
                Path.Combine(_f.Root, "vu"),
                "--corpus",
                _f.Corpus,
                "--vocab-size",
                "300"
            ),
            "value_updates must be one of \"dense\", \"row_sparse\""
        );
        AssertOneLineError(
            _f.Invoke("train", "--out", _f.Run, "--resume", "--value-updates", "row_sparse"),
            "--value-updates cannot change it"
        );
    }

    [Fact]
    public void SetOverridesConfigFieldsAndRefusesUnknownPathsInOneLine()
    {
        var r = _f.Invoke("info", "--preset", "tiny", "--set", "d_model=192", "--set", "n_heads=6", "--json");
        Assert.True(r.Code == 0, r.Err);
        var c = ModelConfig.FromJson(r.Out);
        Assert.Equal((192, 6), (c.DModel, c.NHeads));
        var m = _f.Invoke("info", "--preset", "tiny", "--arch", "ultramem", "--set", "memory_layers[0].memory.top_m=32", "--json");
        Assert.True(m.Code == 0, m.Err);
        Assert.Equal(32, ModelConfig.FromJson(m.Out).MemoryLayers[0].Memory!.TopM);
        AssertOneLineError(_f.Invoke("info", "--set", "colour=3"), "--set colour=3: unknown setting 'colour' (model: vocab_size,");
        AssertOneLineError(_f.Invoke("info", "--set", "memory_layers[0].kind=pkm"), "memory_layers has 0 elements");
        AssertOneLineError(_f.Invoke("info", "--set", "learning_rate=1e-3"), "learning_rate is a training setting");
        AssertOneLineError(_f.Invoke("match", "--set", "n_heads"), "expected PATH=VALUE");
        AssertOneLineError(_f.Invoke("bench", "scaling", "--set", "d_model=wide"), "d_model takes an integer (got \"wide\")");
        // train: --set wins over the flags and is validated before anything is written
        string neg = Path.Combine(_f.Root, "set-neg");
        AssertOneLineError(
            _f.Invoke("train", "--lr", "1e-3", "--set", "learning_rate=-1", "--corpus", _f.Corpus, "--vocab-size", "300", "--out", neg),
            "learning_rate must be positive (got -1)"
        );
        Assert.False(Directory.Exists(neg));
        AssertOneLineError(_f.Invoke("train", "--out", _f.Run, "--resume", "--set", "seed=3"), "--set cannot change it");
    }

    [Fact]
    public void ResumeComparesWithTheRunAndNamesTheFlagAndFieldThatDiffer()
    {
        AssertOneLineError(
            _f.Invoke("train", "--out", _f.Run, "--resume", "--batch-size", "8"),
            "--batch-size cannot change it (batch_size is 4 in the run, 8 requested)"
        );
        AssertOneLineError(
            _f.Invoke("train", "--out", _f.Run, "--resume", "--preset", "tiny"),
            "--preset cannot change it (d_model is 32 in"
        );
        // naming the run's own settings again is no change: the finished run resumes and stops at once
        var same = _f.Invoke("train", "--out", _f.Run, "--resume", "--batch-size", "4", "--steps", "3", "--seed", "1234");
        Assert.True(same.Code == 0, same.Err);
        Assert.Contains("done: step 3", same.Out);
    }

    [Theory]
    [InlineData("TERM", "SIGTERM")]
    [InlineData("INT", "Ctrl-C")] // what Ctrl-C sends
    public void SigtermStopsTrainingWithACheckpointLikeCtrlC(string kill, string said)
    {
        string run = Path.Combine(_f.Root, "signal-" + kill);
        bool sent = false;
        var r = _f.Invoke(
            (pid, err) =>
            {
                if (sent || !err().Contains("model: "))
                    return sent; // wait until training has started
                Thread.Sleep(1500);
                Process.Start("kill", new[] { "-" + kill, pid.ToString() })!.WaitForExit();
                return sent = true;
            },
            "train",
            "--corpus",
            _f.Corpus,
            "--vocab-size",
            "300",
            "--preset",
            "tiny",
            "--steps",
            "100000",
            "--batch-size",
            "2",
            "--seq-len",
            "32",
            "--checkpoint-interval",
            "100000",
            "--out",
            run
        );
        Assert.True(sent, r.Err);
        Assert.Equal(130, r.Code);
        Assert.Contains(said, r.Err);
        Assert.Contains("stopped at step", r.Out);
        using var model = Checkpoint.Open(run).LoadModel(); // the checkpoint written on the way out
    }

    [Fact]
    public void BadNumbersFailInOneLineBeforeAnyWork()
    {
        AssertOneLineError(_f.Invoke("train", "--steps", "abc", "--out", Path.Combine(_f.Root, "t1")), "--steps: 'abc' is not an integer");
        AssertOneLineError(
            _f.Invoke("train", "--seed", "-1", "--out", Path.Combine(_f.Root, "t1")),
            "--seed: '-1' is not a non-negative integer"
        );
        AssertOneLineError(_f.Invoke("info", "--bogus"), "Unrecognized command or argument '--bogus'");
        string threads = Path.Combine(_f.Root, "threads0");
        AssertOneLineError(
            _f.Invoke("train", "--threads", "0", "--corpus", _f.Corpus, "--vocab-size", "300", "--out", threads),
            "threads must be positive (got 0)"
        );
        Assert.False(Directory.Exists(threads));
        AssertOneLineError(_f.Invoke("eval", "--checkpoint", _f.Run, "--batch-size", "0"), "--batch-size must be positive (got 0)");
        // sizes past any machine: one line, at once, nothing allocated or written (they used to overflow, hang or exhaust memory)
        AssertOneLineError(_f.Invoke("info", "--set", "d_model=1000000000", "--set", "n_heads=2"), "d_model must be at most 65536");
        AssertOneLineError(_f.Invoke("info", "--set", "n_layers=100000000"), "n_layers must be at most 4096");
        string huge = Path.Combine(_f.Root, "huge-batch");
        AssertOneLineError(
            _f.Invoke("train", "--batch-size", "1000000", "--corpus", _f.Corpus, "--vocab-size", "300", "--out", huge),
            "training needs about"
        );
        Assert.False(Directory.Exists(huge));
        AssertOneLineError(_f.Invoke("train", "--threads", "100000", "--out", huge), "threads must be at most 4 ×");
    }

    [Fact]
    public void AnAllocationThatFailsInsideLibtorchIsOneLine()
    {
        // The memory estimate passes (the machine has the memory) but the process may use only 6 GB of address space, so
        // libtorch's allocator fails in the first forward pass (a 268 MB activation): before, a C++ stack trace and SIGABRT (exit 134).
        string run = Path.Combine(_f.Root, "oom");
        var r = _f.InvokeLimited(
            6_000_000,
            "train",
            "--corpus",
            _f.Corpus,
            "--vocab-size",
            "300",
            "--batch-size",
            "4096",
            "--seq-len",
            "128",
            "--steps",
            "2",
            "--threads",
            "1",
            "--out",
            run
        );
        AssertOneLineError(r, "out of memory: libtorch could not allocate");
        Assert.Equal(1, r.Code);
        Assert.DoesNotContain("frame #", r.Err);
        Assert.False(
            Directory.Exists(Path.Combine(run, "checkpoints")) && Directory.EnumerateDirectories(Path.Combine(run, "checkpoints")).Any()
        );
        // under the same limit, a batch the process can afford trains: the limit leaves room for the tool itself
        var ok = _f.InvokeLimited(
            6_000_000,
            "train",
            "--corpus",
            _f.Corpus,
            "--vocab-size",
            "300",
            "--batch-size",
            "2",
            "--seq-len",
            "32",
            "--steps",
            "1",
            "--threads",
            "1",
            "--out",
            Path.Combine(_f.Root, "oom-small")
        );
        Assert.True(ok.Code == 0, ok.Err);
    }

    [Fact]
    public void TasksMakeWritesACorpusAndTasksEvalRefusesAContextTooShort()
    {
        string corpus = Path.Combine(_f.Root, "tasks.jsonl");
        var made = _f.Invoke("tasks", "make", "--out", corpus, "--documents", "20", "--examples-per-document", "6");
        Assert.True(made.Code == 0, made.Err);
        var lines = File.ReadAllLines(corpus);
        Assert.Equal(20, lines.Length);
        var text = System.Text.Json.JsonDocument.Parse(lines[0]).RootElement.GetProperty("text").GetString()!;
        Assert.Equal(6, text.TrimEnd('\n').Split('\n').Length); // one example of each task
        Assert.StartsWith("kv: ", text);
        AssertOneLineError(_f.Invoke("tasks", "make", "--out", corpus, "--documents", "0"), "--documents must be in 1..10,000,000");
        // the fixture's model has a 32-token context: the suite's examples do not fit, and it says so
        AssertOneLineError(_f.Invoke("tasks", "eval", "--checkpoint", _f.Run, "--examples", "2"), "exceeds max_seq_len 32");
    }

    [Fact]
    public void AnUnavailableDeviceIsOneLineBeforeAnyWork()
    {
        string run = Path.Combine(_f.Root, "cuda-run");
        AssertOneLineError(
            _f.Invoke("train", "--device", "cuda", "--corpus", _f.Corpus, "--vocab-size", "300", "--out", run),
            "device cuda is not available"
        );
        Assert.False(Directory.Exists(run));
        AssertOneLineError(_f.Invoke("eval", "--checkpoint", _f.Run, "--device", "cuda:1"), "device cuda:1 is not available");
        AssertOneLineError(_f.Invoke("generate", "--checkpoint", _f.Run, "--device", "tpu"), "--device: 'tpu' is not a device");
        AssertOneLineError(
            _f.Invoke("compare", "--device", "cuda", "--out", Path.Combine(_f.Root, "cuda-cmp")),
            "device cuda is not available"
        );
        Assert.False(Directory.Exists(Path.Combine(_f.Root, "cuda-cmp")));
        var cpu = _f.Invoke("generate", "--checkpoint", _f.Run, "--device", "CPU", "--max-tokens", "3");
        Assert.True(cpu.Code == 0, cpu.Err);
    }

    [Fact]
    public void ACheckpointTooBigForTheMachineIsRefusedBeforeItsWeightsAreRead()
    {
        // a checkpoint from a bigger machine, as its config says: 12 · 512 · 16384² ≈ 1.6 T parameters
        string big = Path.Combine(_f.Root, "big-checkpoint");
        CopyFolder(Checkpoint.Open(_f.Run).Directory, big);
        string configPath = Path.Combine(big, Checkpoint.ModelConfigFile);
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(configPath))!;
        node["d_model"] = 16384;
        node["n_heads"] = 128;
        node["n_layers"] = 512;
        File.WriteAllText(configPath, node.ToJsonString());
        AssertOneLineError(_f.Invoke("generate", "--checkpoint", big), "the model is too big for this machine's free memory");
        AssertOneLineError(_f.Invoke("eval", "--checkpoint", big), "the model is too big for this machine's free memory");
    }

    [Fact]
    public void AnEvaluationBatchTooBigForTheMachineNamesTheBatchSize()
    {
        var model = new ModelConfig
        {
            DModel = 32,
            NLayers = 2,
            NHeads = 2,
            MaxSeqLen = 32,
        };
        double weights = UltraMem.Inference.InferenceMemory.WeightBytes(model);
        double small = UltraMem.Inference.InferenceMemory.EvaluationBytes(model, 4, 32);
        double large = UltraMem.Inference.InferenceMemory.EvaluationBytes(model, 4000, 32);
        Assert.True(weights < small && small < large);
        UltraMem.Inference.InferenceMemory.EnsureFits("evaluating", model, small, small, "--batch-size"); // fits exactly
        var e = Assert.Throws<UltraMemException>(() =>
            UltraMem.Inference.InferenceMemory.EnsureFits("evaluating", model, large, small, "--batch-size")
        );
        Assert.Contains("use a smaller --batch-size", e.Message);
    }

    static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from))
            File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }

    [Fact]
    public void ARunOnARelativeCorpusPathResumesFromAnotherFolder()
    {
        string parent = Path.GetDirectoryName(_f.Corpus)!;
        string run = Path.Combine(_f.Root, "relative");
        var first = _f.InvokeIn(
            parent,
            "train",
            "--corpus",
            Path.GetFileName(_f.Corpus),
            "--vocab-size",
            "300",
            "--preset",
            "tiny",
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--seq-len",
            "32",
            "--checkpoint-interval",
            "1",
            "--out",
            run
        );
        Assert.True(first.Code == 0, first.Err);
        Assert.Equal(Path.GetFullPath(_f.Corpus), Checkpoint.Open(run).TrainConfig.Corpus); // recorded absolute
        var resumed = _f.Invoke("train", "--out", run, "--resume"); // from the test's own working directory
        Assert.True(resumed.Code == 0, resumed.Err);
    }

    [Fact]
    public void MissingAndCorruptFilesFailWithoutTouchingData()
    {
        AssertOneLineError(_f.Invoke("eval", "--checkpoint", Path.Combine(_f.Root, "missing")), "checkpoint not found");
        AssertOneLineError(
            _f.Invoke("train", "--corpus", Path.Combine(_f.Root, "no-such-corpus.txt"), "--out", Path.Combine(_f.Root, "x")),
            "no-such-corpus.txt"
        );

        // a copy of the checkpoint with a truncated weights file
        string src = Checkpoint.Open(_f.Run).Directory;
        string bad = Path.Combine(_f.Root, "corrupt-ckpt");
        Directory.CreateDirectory(bad);
        foreach (var f in Directory.GetFiles(src))
            File.Copy(f, Path.Combine(bad, Path.GetFileName(f)));
        string weights = Path.Combine(bad, Checkpoint.ModelFile);
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length / 2)]);
        var r = _f.Invoke("generate", "--checkpoint", bad, "--max-tokens", "3");
        AssertOneLineError(r, Checkpoint.ModelFile);
        Assert.Equal(bytes.Length / 2, new FileInfo(weights).Length); // untouched

        // training into an existing run without --resume leaves it alone
        string latest = File.ReadAllText(Path.Combine(_f.Run, "checkpoints", "latest"));
        AssertOneLineError(
            _f.Invoke("train", "--out", _f.Run, "--corpus", _f.Corpus, "--vocab-size", "300"),
            "already holds a training run"
        );
        Assert.Equal(latest, File.ReadAllText(Path.Combine(_f.Run, "checkpoints", "latest")));
    }

    [Fact]
    public void ATokenizerThatDoesNotMatchTheCheckpointIsRejected()
    {
        string other = Path.Combine(_f.Root, "other-tokenizer");
        UltraMem
            .Tokenization.TextTokenizer.Train(
                new[] { "completely different text, with other words entirely. " + TestData.Paragraph[..80] },
                280
            )
            .Save(other);
        AssertOneLineError(_f.Invoke("eval", "--checkpoint", _f.Run, "--tokenizer", other), "does not match the checkpoint");
        // another tokenizer copied into a checkpoint folder: eval and generate refuse it by the recorded fingerprint
        string copy = Path.Combine(_f.Root, "copied-checkpoint");
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(Checkpoint.Open(_f.Run).Directory))
            File.Copy(f, Path.Combine(copy, Path.GetFileName(f)), overwrite: true);
        foreach (var f in new[] { "vocab.json", "merges.txt" })
            File.Copy(Path.Combine(other, f), Path.Combine(copy, f), overwrite: true);
        AssertOneLineError(_f.Invoke("eval", "--checkpoint", copy), "is not the one this checkpoint was trained with");
        AssertOneLineError(
            _f.Invoke("generate", "--checkpoint", copy, "--prompt", "The"),
            "is not the one this checkpoint was trained with"
        );
    }

    [Fact]
    public void EvalGenerateAndInfoWorkOnACheckpoint()
    {
        var e = _f.Invoke("eval", "--checkpoint", _f.Run);
        Assert.Equal(0, e.Code);
        Assert.Contains("perplexity", e.Out);
        var g = _f.Invoke("generate", "--checkpoint", _f.Run, "--prompt", "The committee", "--max-tokens", "8", "--temperature", "0");
        Assert.Equal(0, g.Code);
        Assert.StartsWith("The committee", g.Out);
        var i = _f.Invoke("info", "--checkpoint", _f.Run);
        Assert.Equal(0, i.Code);
        Assert.Contains("activated per token", i.Out);
        AssertOneLineError(_f.Invoke("generate", "--checkpoint", _f.Run, "--top-p", "0"), "top-p");
    }

    [Fact]
    public void BenchDecodeAndScalingWriteTheirTablesAndPlots()
    {
        string outDir = Path.Combine(_f.Root, "bench");
        var d = _f.Invoke(
            "bench",
            "decode",
            "--preset",
            "tiny",
            "--archs",
            "dense,moe,ultramem",
            "--batches",
            "1,2",
            "--profile-batches",
            "2",
            "--kv",
            "8",
            "--warmup",
            "0",
            "--reps",
            "1",
            "--threads",
            "1",
            "--out",
            outDir
        );
        Assert.True(d.Code == 0, d.Err);
        Assert.Contains("moe / ultramem", d.Out);
        Assert.Contains("Where the time goes", d.Out);
        foreach (var f in new[] { "decode.md", "decode.csv", "decode-time.png", "decode-bytes.png" })
            Assert.True(File.Exists(Path.Combine(outDir, f)), f);
        Assert.Equal(1 + 3 * 2, File.ReadAllLines(Path.Combine(outDir, "decode.csv")).Length);

        var s = _f.Invoke(
            "bench",
            "scaling",
            "--preset",
            "tiny",
            "--archs",
            "dense,moe",
            "--scales",
            "1,2",
            "--batch",
            "2",
            "--kv",
            "8",
            "--warmup",
            "0",
            "--reps",
            "1",
            "--threads",
            "1",
            "--out",
            outDir
        );
        Assert.True(s.Code == 0, s.Err);
        Assert.Contains("moe x2", File.ReadAllText(Path.Combine(outDir, "scaling.csv")));
        Assert.True(File.Exists(Path.Combine(outDir, "scaling.png")));

        AssertOneLineError(_f.Invoke("bench", "decode", "--archs", "dense,gpt5"), "unknown family member or variant 'gpt5'");
        AssertOneLineError(_f.Invoke("bench", "decode", "--batches", "1,0"), "batch sizes must be >= 1");
        AssertOneLineError(_f.Invoke("bench", "scaling", "--scales", "1,x"), "'x' is not an integer");
    }
}
