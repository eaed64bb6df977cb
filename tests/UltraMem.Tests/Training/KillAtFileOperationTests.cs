using System.Text.Json.Nodes;
using UltraMem.Reporting;
using UltraMem.Training;
using static TorchSharp.torch;

namespace UltraMem.Tests.Training;

/// <summary>
/// The trainer killed (SIGKILL) just before and just after each file-system step of a checkpoint save and of a resume:
/// the renames that publish a step folder and <c>latest</c>, the pruning of an old step, the truncation of the metrics
/// log. After every kill the run folder must open at a complete checkpoint with finite weights (or hold none yet), its
/// logged history must parse in step order, and <c>train --resume</c> must finish the run bitwise equal to one that was
/// never killed, with the same logged history. The kills come from an LD_PRELOAD shim (CrashShim/kill_at_file_op.c)
/// that counts the real tool's rename/unlink/rmdir calls, so the tool itself has no test hooks.
/// </summary>
public sealed class KillAtFileOperationFixture : IDisposable
{
    public string Root { get; } = TestData.TempDir();
    public string Corpus { get; }
    public string Shim { get; }

    /// <summary>The uninterrupted run: its folder and the file operations it made, in order ("INDEX OP PATH [-> PATH]").</summary>
    public string Reference { get; }
    public string[] Operations { get; }

    public KillAtFileOperationFixture()
    {
        Corpus = TestData.CorpusFolder(Root, 10);
        Shim = Path.Combine(Root, "kill_at_file_op.so");
        var cc = ChildProcess.Run(
            "gcc",
            [
                "-shared",
                "-fPIC",
                "-O2",
                "-o",
                Shim,
                Path.Combine(AppContext.BaseDirectory, "Training", "CrashShim", "kill_at_file_op.c"),
                "-ldl",
            ]
        );
        Assert.True(cc.Code == 0, "the crash tests need a C compiler (gcc): " + cc.Err);
        Reference = Path.Combine(Root, "reference");
        string log = Path.Combine(Root, "reference.ops");
        var r = Train(Reference, new() { ["KILL_LOG"] = log });
        Assert.True(r.Code == 0, r.Err);
        Operations = File.ReadAllLines(log);
    }

    /// <summary>A 3-step run, a checkpoint every step (the first pruned at step 3), one thread: bitwise reproducible.</summary>
    public (int Code, string Out, string Err) Train(string run, Dictionary<string, string> env, bool resume = false) =>
        Tool(
            env,
            resume
                ? ["train", "--out", run, "--resume"]
                :
                [
                    "train",
                    "--corpus",
                    Corpus,
                    "--vocab-size",
                    "300",
                    "--set",
                    "d_model=32",
                    "--set",
                    "n_layers=2",
                    "--set",
                    "n_heads=2",
                    "--set",
                    "max_seq_len=32",
                    "--batch-size",
                    "4",
                    "--seq-len",
                    "32",
                    "--steps",
                    "3",
                    "--checkpoint-interval",
                    "1",
                    "--eval-interval",
                    "1",
                    "--threads",
                    "1",
                    "--out",
                    run,
                ]
        );

    (int Code, string Out, string Err) Tool(Dictionary<string, string> env, string[] args)
    {
        var all = new Dictionary<string, string>(env) { ["ULTRAMEM_CACHE"] = Path.Combine(Root, "cache") };
        if (env.ContainsKey("KILL_AT_OP") || env.ContainsKey("KILL_LOG"))
            all["LD_PRELOAD"] = Shim;
        return ChildProcess.Run("dotnet", [ChildProcess.ToolDll, .. args], all);
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

public class KillAtFileOperationTests : IClassFixture<KillAtFileOperationFixture>
{
    readonly KillAtFileOperationFixture _f;

    public KillAtFileOperationTests(KillAtFileOperationFixture f) => _f = f;

    /// <summary>The 1-based index in the reference run of the <paramref name="occurrence"/>-th operation matching
    /// <paramref name="pattern"/>.</summary>
    int IndexOf(string pattern, int occurrence = 1)
    {
        var hits = _f
            .Operations.Select((l, i) => (l, i))
            .Where(x => System.Text.RegularExpressions.Regex.IsMatch(x.l, pattern))
            .Select(x => x.i + 1)
            .ToList();
        Assert.True(hits.Count >= occurrence, $"fewer than {occurrence} operations match {pattern}:\n{string.Join("\n", _f.Operations)}");
        return hits[occurrence - 1];
    }

    public static TheoryData<string, bool> SavePoints =>
        new()
        {
            // a file of the first checkpoint written inside its temporary folder
            { @"rename .*/\.step-0000001\.tmp-[^/]*/\.model\.safetensors", false },
            // the temporary folder renamed to step-0000001
            { @"rename \S*/\.step-0000001\.tmp-\S* -> \S*/checkpoints/step-0000001$", false },
            { @"rename \S*/\.step-0000001\.tmp-\S* -> \S*/checkpoints/step-0000001$", true },
            // latest pointed at step-0000001
            { @"rename \S*/\.latest\.\S* -> \S*/checkpoints/latest$", false },
            { @"rename \S*/\.latest\.\S* -> \S*/checkpoints/latest$", true },
            // the third checkpoint published, after which step-0000001 is pruned
            { @"rename \S*/\.step-0000003\.tmp-\S* -> \S*/checkpoints/step-0000003$", true },
            { @"rmdir \S*/checkpoints/step-0000001$", false },
            // step-0000001 half deleted
            { @"unlink \S*/checkpoints/step-0000001/", true },
        };

    [Theory]
    [MemberData(nameof(SavePoints))]
    public void AKillDuringASaveLeavesAResumableRunThatFinishesLikeAnUninterruptedOne(string operation, bool after)
    {
        int index = IndexOf(operation);
        string run = Path.Combine(_f.Root, $"kill-{index}-{(after ? "after" : "before")}");
        var killed = _f.Train(run, Kill(index, after));
        Assert.True(killed.Code == 137, $"not killed at operation {index} ({_f.Operations[index - 1]}): exit {killed.Code}\n{killed.Err}");
        AssertConsistent(run);
        ResumeAndCompare(run);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AKillWhileAResumeTruncatesTheMetricsLogLosesNoHistory(bool after)
    {
        // killed before `latest` names step 2: the resume goes back to step 1 and cuts the log's step-2 lines
        int second = IndexOf(@"-> \S*/checkpoints/latest$", occurrence: 2);
        string run = Path.Combine(_f.Root, $"truncate-{(after ? "after" : "before")}");
        Assert.Equal(137, _f.Train(run, Kill(second, after: false)).Code);
        Assert.Contains(ReadHistory(run), m => m.Step == 2);
        var resumed = _f.Train(
            run,
            new()
            {
                ["KILL_AT_OP"] = "1",
                ["KILL_MATCH"] = "metrics.jsonl",
                ["KILL_AFTER"] = after ? "1" : "0",
            },
            resume: true
        );
        Assert.True(resumed.Code == 137, $"the resume was not killed at its metrics truncation: exit {resumed.Code}\n{resumed.Err}");
        AssertConsistent(run);
        ResumeAndCompare(run);
    }

    Dictionary<string, string> Kill(int index, bool after) =>
        new()
        {
            ["KILL_AT_OP"] = index.ToString(),
            ["KILL_MATCH"] = _f.Root,
            ["KILL_AFTER"] = after ? "1" : "0",
        };

    /// <summary>The run opens at a complete checkpoint with finite weights (or has none yet), and its log parses in step order.</summary>
    static void AssertConsistent(string run)
    {
        if (Checkpoint.Exists(run))
        {
            var ckpt = Checkpoint.Open(run);
            using var model = ckpt.LoadModel();
            foreach (var (name, p) in model.named_parameters())
                Assert.True(isfinite(p).all().item<bool>(), $"{name} of {ckpt.Directory} is not finite");
        }
        else
            Assert.False(File.Exists(Path.Combine(run, "checkpoints", "latest")), "latest names no complete checkpoint");
        var steps = ReadHistory(run).Where(m => m.Split == "train").Select(m => m.Step).ToList();
        Assert.Equal(steps.OrderBy(s => s), steps);
    }

    static List<MetricRecord> ReadHistory(string run) => new MetricsLog(run).ReadAll();

    void ResumeAndCompare(string run)
    {
        var resumed = _f.Train(run, [], resume: true);
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Equal(
            File.ReadAllBytes(Path.Combine(_f.Reference, "checkpoints", "step-0000003", "model.safetensors")),
            File.ReadAllBytes(Path.Combine(run, "checkpoints", "step-0000003", "model.safetensors"))
        );
        Assert.Equal(History(_f.Reference), History(run));
    }

    /// <summary>The logged history without its clock fields.</summary>
    static List<string> History(string run) =>
        File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
            .Select(l =>
            {
                var o = JsonNode.Parse(l)!.AsObject();
                o.Remove("tokens_per_s");
                o.Remove("elapsed_s");
                return o.ToJsonString();
            })
            .ToList();
}
