using UltraMem.Experiments;
using UltraMem.Model;
using UltraMem.Reporting;
using UltraMem.Training;

namespace UltraMem.Tests.Experiments;

/// <summary>A small corpus and token cache shared by the comparison tests.</summary>
public sealed class ComparisonFixture : IDisposable
{
    public string Root { get; } = TestData.TempDir();
    public string Corpus { get; }
    public string Cache { get; }

    public ComparisonFixture()
    {
        Corpus = TestData.CorpusFolder(Root, 16);
        Cache = Path.Combine(Root, "cache");
    }

    /// <summary>A micro comparison: D = 64, 4 layers (the smallest backbone every family member can be matched on), 4×32 tokens a
    /// step.</summary>
    public CompareSettings Settings(long steps = 4, string kind = CompareSettings.FamilyKind) =>
        new()
        {
            Kind = kind,
            ModelName = "micro",
            BaseModel = new ModelConfig
            {
                VocabSize = 300,
                DModel = 64,
                NLayers = 4,
                NHeads = 4,
                MaxSeqLen = 32,
                Dropout = 0,
            },
            Train = new TrainConfig
            {
                Corpus = Corpus,
                TokenizerVocabSize = 300,
                ValidationFraction = 0.2,
                BatchSize = 4,
                SeqLen = 32,
                MaxSteps = steps,
                EvalInterval = 2,
                EvalBatches = 2,
                CheckpointInterval = 2,
                KeepCheckpoints = 1,
                Threads = 1,
            },
        };

    public CompareRequest Request(string folder, CompareSettings settings, string[] archs, ulong[] seeds, long? stopAfter = null) =>
        new()
        {
            OutDir = folder,
            Settings = settings,
            Archs = archs,
            Seeds = seeds,
            CacheDir = Cache,
            Log = _ => { },
            ShowProgress = false,
            StopAfterStep = stopAfter,
        };

    public string Folder(string name) => Path.Combine(Root, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, true);
        }
        catch (IOException) { }
    }
}

public class ComparisonTests : IClassFixture<ComparisonFixture>
{
    readonly ComparisonFixture _f;

    public ComparisonTests(ComparisonFixture f) => _f = f;

    [Fact]
    public void SummaryStatisticsOnKnownNumbers()
    {
        Assert.Equal(2.5, Stats.Mean(new[] { 1.0, 2, 3, 4 }), 12);
        Assert.Equal(Math.Sqrt(5.0 / 3), Stats.SampleStd(new[] { 1.0, 2, 3, 4 }), 12); // n − 1 in the denominator
        Assert.Equal(0.0, Stats.SampleStd(new[] { 2.0, 2.0 }));
        Assert.True(double.IsNaN(Stats.SampleStd(new[] { 3.0 })));

        // throughput: steps after an evaluation (step 3 follows the eval at 2) or a checkpoint (step 5 follows 4), step 1, and a
        // step over 3× the median (a resumed session's first step) are left out: the remaining steps take 0.5 s each
        var m = new List<MetricRecord>();
        double t = 0;
        foreach (
            var (step, dt) in new[] { (1L, 9.0), (2L, 0.5), (3L, 4.0), (4L, 0.5), (5L, 2.0), (6L, 0.5), (7L, 0.5), (8L, 6.0), (9L, 0.5) }
        )
        {
            t += dt;
            m.Add(new MetricRecord(step, "train", new Dictionary<string, double> { ["loss"] = 1, ["elapsed_s"] = t }));
            if (step == 2)
                m.Add(new MetricRecord(step, "val", new Dictionary<string, double> { ["loss"] = 1 }));
        }
        Assert.Equal(1000.0 / 0.5, Stats.TrainingTokensPerSecond(m, 1000, checkpointInterval: 4), 6);
    }

    [Fact]
    public void TheResultsFileIsAppendOnlyAndOtherSettingsAreRefused()
    {
        string folder = _f.Folder("append");
        var first = Comparison.Run(_f.Request(folder, _f.Settings(), new[] { "dense" }, new ulong[] { 1 }));
        Assert.False(first.Interrupted);
        string results = Path.Combine(folder, ResultsLog.FileName);
        string before = File.ReadAllText(results);
        Assert.Single(before.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        string settingsBefore = File.ReadAllText(Path.Combine(folder, Comparison.SettingsFile));

        // another token budget in the same folder: refused, naming the field, and nothing is touched
        var e = Assert.Throws<UltraMemException>(() =>
            Comparison.Run(_f.Request(folder, _f.Settings(steps: 6), new[] { "dense" }, new ulong[] { 1 }))
        );
        Assert.Contains("train.max_steps: 4 recorded, 6 now", e.Message);
        Assert.Contains("another --out", e.Message);
        Assert.Equal(before, File.ReadAllText(results));
        Assert.Equal(settingsBefore, File.ReadAllText(Path.Combine(folder, Comparison.SettingsFile)));
        var lr = Assert.Throws<UltraMemException>(() =>
            Comparison.Run(
                _f.Request(
                    folder,
                    _f.Settings() with
                    {
                        Train = _f.Settings().Train with { LearningRate = 1e-3 },
                    },
                    new[] { "dense" },
                    new ulong[] { 1 }
                )
            )
        );
        Assert.Contains("train.learning_rate", lr.Message);

        // the same settings with one more seed: the old line stays as it was, one line is appended
        var second = Comparison.Run(_f.Request(folder, _f.Settings(), new[] { "dense" }, new ulong[] { 1, 2 }));
        Assert.Equal(1, second.Trained);
        Assert.Equal(1, second.Skipped);
        string after = File.ReadAllText(results);
        Assert.StartsWith(before, after);
        Assert.Equal(2, after.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        var recs = new ResultsLog(folder).ReadAll();
        Assert.Equal(new ulong[] { 1, 2 }, recs.Select(r => r.Seed));
        Assert.All(
            recs,
            r =>
                Assert.True(
                    r.Steps == 4 && r.Tokens == 4 * 4 * 32 && double.IsFinite(r.FinalValLoss) && r.TotalParams > 0 && r.FlopsPerToken > 0
                )
        );
        Assert.NotEqual(recs[0].FinalValLoss, recs[1].FinalValLoss); // seeds differ

        // a folder that holds something else is not adopted
        string other = _f.Folder("not-a-comparison");
        Directory.CreateDirectory(other);
        File.WriteAllText(Path.Combine(other, "notes.txt"), "mine");
        Assert.Contains(
            "holds no comparison",
            Assert
                .Throws<UltraMemException>(() => Comparison.Run(_f.Request(other, _f.Settings(), new[] { "dense" }, new ulong[] { 1 })))
                .Message
        );
    }

    /// <summary>
    /// A recorded run whose model is not what this version builds for its architecture (a preset changed since) is not skipped
    /// silently: the comparison stops naming it and the field, and --retrain-stale moves its folder aside and trains it again,
    /// appending a line that supersedes the old one.
    /// </summary>
    [Fact]
    public void RunsOfAnotherModelThanThisVersionBuildsAreNamedAndRetrainedOnRequest()
    {
        string folder = _f.Folder("stale");
        Comparison.Run(_f.Request(folder, _f.Settings(), new[] { "dense" }, new ulong[] { 1 }));
        string results = Path.Combine(folder, ResultsLog.FileName);
        // pretend the run was trained before the preset changed: another rope_theta in its line's model_sha and its checkpoint
        string line = File.ReadAllText(results);
        var old = new ResultsLog(folder).ReadAll().Single();
        File.WriteAllText(results, line.Replace(old.ModelSha, "0123456789abcdef"));
        foreach (
            var cfg in Directory.GetFiles(
                Path.Combine(folder, "dense", "seed-1", "checkpoints"),
                "model_config.json",
                SearchOption.AllDirectories
            )
        )
            File.WriteAllText(cfg, File.ReadAllText(cfg).Replace("\"rope_theta\": 10000", "\"rope_theta\": 5000"));
        string before = File.ReadAllText(results);

        var e = Assert.Throws<UltraMemException>(() =>
            Comparison.Run(_f.Request(folder, _f.Settings(), new[] { "dense" }, new ulong[] { 1 }))
        );
        Assert.Contains("dense seed 1", e.Message);
        Assert.Contains("rope_theta: 5000 recorded, 10000 now", e.Message);
        Assert.Contains("--retrain-stale", e.Message);
        Assert.Equal(before, File.ReadAllText(results));

        var again = Comparison.Run(_f.Request(folder, _f.Settings(), new[] { "dense" }, new ulong[] { 1 }) with { RetrainStale = true });
        Assert.Equal(1, again.Trained);
        Assert.True(File.Exists(Path.Combine(folder, "stale", "dense", "seed-1", "model_config.json")));
        Assert.StartsWith(before, File.ReadAllText(results)); // the old line stays; the new one supersedes it
        var recs = new ResultsLog(folder).ReadAll();
        Assert.Equal(2, recs.Count);
        Assert.Equal(old.FinalValLoss, recs[1].FinalValLoss); // the same model, seed and data: the same loss
        Assert.Equal(old.ModelSha, recs[1].ModelSha);
        Assert.Contains(
            again.Report.Notes,
            n => n.StartsWith("1 earlier line of results.jsonl is superseded") && n.Contains("dense seed 1")
        );
        Assert.Equal(1, Comparison.Run(_f.Request(folder, _f.Settings(), new[] { "dense" }, new ulong[] { 1 })).Skipped);
    }

    [Fact]
    public void AnInterruptedComparisonResumesAndSkipsFinishedRuns()
    {
        string folder = _f.Folder("resume");
        var s = _f.Settings(steps: 4);
        var archs = new[] { "dense", "pkm" };
        // session 1 stops inside the first run (as Ctrl-C would): nothing recorded, a checkpoint at step 3
        var stopped = Comparison.Run(_f.Request(folder, s, archs, new ulong[] { 1 }, stopAfter: 3));
        Assert.True(stopped.Interrupted);
        Assert.Empty(new ResultsLog(folder).ReadAll());
        Assert.Equal(3, Checkpoint.Open(Path.Combine(folder, "dense", "seed-1")).State.Step);

        // a run killed before its first checkpoint leaves a folder with nothing to resume: it is started again
        Directory.CreateDirectory(Path.Combine(folder, "pkm", "seed-1"));
        File.WriteAllText(Path.Combine(folder, "pkm", "seed-1", "metrics.jsonl"), "{\"step\":1,\"split\":\"train\",\"loss\":9}\n");

        // session 2 continues dense from step 3 and trains pkm
        var resumed = Comparison.Run(_f.Request(folder, s, archs, new ulong[] { 1 }));
        Assert.False(resumed.Interrupted);
        Assert.Equal(2, resumed.Trained);
        var recs = new ResultsLog(folder).ReadAll();
        Assert.Equal(archs, recs.Select(r => r.Arch));
        var steps = new MetricsLog(Path.Combine(folder, "dense", "seed-1"))
            .ReadAll()
            .Where(m => m.Split == "train")
            .Select(m => m.Step)
            .ToList();
        Assert.Equal(new long[] { 1, 2, 3, 4 }, steps);
        // the optimizer state of a recorded run is dropped, its weights kept
        var ckpt = Checkpoint.Open(Path.Combine(folder, "dense", "seed-1"));
        Assert.False(File.Exists(Path.Combine(ckpt.Directory, Checkpoint.OptimizerFile)));
        Assert.True(File.Exists(Path.Combine(ckpt.Directory, Checkpoint.ModelFile)));

        // resumed exactly: the same final loss as an uninterrupted comparison
        var straight = Comparison.Run(_f.Request(_f.Folder("straight"), s, new[] { "dense" }, new ulong[] { 1 }));
        Assert.Equal(new ResultsLog(_f.Folder("straight")).ReadAll()[0].FinalValLoss, recs[0].FinalValLoss);

        // session 3 has nothing left to do and leaves the results alone
        string before = File.ReadAllText(Path.Combine(folder, ResultsLog.FileName));
        var again = Comparison.Run(_f.Request(folder, s, archs, new ulong[] { 1 }));
        Assert.Equal((0, 2, false), (again.Trained, again.Skipped, again.Interrupted));
        Assert.Equal(before, File.ReadAllText(Path.Combine(folder, ResultsLog.FileName)));
        foreach (var f in new[] { ComparisonReport.MarkdownFile, ComparisonReport.CsvFile, ComparisonReport.PngFile })
            Assert.True(File.Exists(Path.Combine(folder, f)), f);
        Assert.Equal(new[] { "dense", "pkm" }, again.Report.Archs.Select(a => a.Arch));
        Assert.Matches(@"^[+-]\d\.\d{4}$", again.Report.Rows[1][again.Report.Headers.ToList().IndexOf("Δ vs dense")]);
        // the memory layer's diagnostics at its final evaluation: pkm only (dense has none), equal to its last mem_val record
        var (arch, memory) = Assert.Single(again.Report.Memory);
        Assert.Equal("pkm", arch);
        var lastVal = new MetricsLog(Path.Combine(folder, "pkm", "seed-1")).ReadAll().Last(m => m.Split == "mem_val");
        Assert.Equal(lastVal.Values["mem0.top1_weight"], Assert.Single(memory["top1_weight"]));
        Assert.Equal(lastVal.Values["mem0.coverage"], Assert.Single(memory["coverage"]));
        Assert.Empty(memory["retrieval_recall"]); // product keys are exact: no recall to report
        Assert.Contains("| pkm | – | ", File.ReadAllText(Path.Combine(folder, ComparisonReport.MarkdownFile)));
    }

    [Fact]
    public void ADivergedRunIsRecordedAsFailedAndTheComparisonGoesOn()
    {
        string folder = _f.Folder("diverge");
        var s = _f.Settings(steps: 4);
        s = s with { Train = s.Train with { LearningRate = 1e6, GradClip = 0 } };
        var outcome = Comparison.Run(_f.Request(folder, s, new[] { "dense" }, new ulong[] { 1, 2 }));
        Assert.False(outcome.Interrupted);
        var recs = new ResultsLog(folder).ReadAll();
        Assert.Equal(2, recs.Count);
        Assert.All(recs, r => Assert.Contains("training diverged", r.Error));
        Assert.Equal("0 (+2 failed)", outcome.Report.Rows[0][1]);
        Assert.Contains(outcome.Report.Notes, n => n.StartsWith("dense seed 1 failed"));
        var again = Comparison.Run(_f.Request(folder, s, new[] { "dense" }, new ulong[] { 1, 2 }));
        Assert.Equal((0, 2), (again.Trained, again.Skipped)); // not retried
    }

    [Fact]
    public void OneComparisonAtATimePerFolder()
    {
        string folder = _f.Folder("locked");
        Comparison.OpenFolder(folder, _f.Settings(), "test");
        using (new FileStream(Path.Combine(folder, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var e = Assert.Throws<UltraMemException>(() =>
                Comparison.Run(_f.Request(folder, _f.Settings(), new[] { "dense" }, new ulong[] { 1 }))
            );
            Assert.Contains("another `ultramem compare` is working in", e.Message);
        }
        Assert.False(Directory.Exists(Path.Combine(folder, "dense")));
    }

    [Fact]
    public void TheLadderReportShowsThePaperDeltasAndTheVerdict()
    {
        string folder = _f.Folder("ladder-report");
        var s = _f.Settings(kind: CompareSettings.LadderKind);
        Comparison.OpenFolder(folder, s, "test");
        var log = new ResultsLog(folder);
        void Add(string arch, params double[] losses)
        {
            for (int i = 0; i < losses.Length; i++)
                log.Append(
                    new RunRecord
                    {
                        Arch = arch,
                        Seed = (ulong)i + 1,
                        FinalValLoss = losses[i],
                        Fingerprint = s.Fingerprint,
                        RunDir = Comparison.RunFolder(arch, (ulong)i + 1),
                        TrainTokensPerS = 1000,
                        TotalParams = 10,
                        ActivatedParams = 5,
                        FlopsPerToken = 20,
                        Settings = s.Identity(),
                    }
                );
        }
        Add("ultramem", 5.00, 5.01, 5.02);
        Add("pkm", 5.20, 5.21, 5.22);
        Add("pkm+rm_softmax", 5.18, 5.19, 5.20);
        var report = ComparisonReport.Write(folder);
        Assert.Equal(new[] { "pkm", "pkm+rm_softmax", "ultramem" }, report.Archs.Select(a => a.Arch)); // ladder order
        int col(string h) => report.Headers.ToList().IndexOf(h);
        var rm = report.Rows[1];
        Assert.Equal("5.1900", rm[col("val loss mean")]);
        Assert.Equal("0.0100", rm[col("± std")]);
        Assert.Equal("-0.0200", rm[col("Δ prev")]);
        Assert.Equal("-0.006", rm[col("paper Δ prev")]);
        var um = report.Rows[2];
        Assert.Equal("-0.086", um[col("paper Δ prev")]); // 2.736 − 2.822: the previous rung in the table
        Assert.Equal("-0.092", um[col("paper Δ vs pkm")]); // the paper's whole ladder
        Assert.Equal("-0.2000", um[col("Δ vs pkm")]);
        Assert.True(report.UltraMemBeatsPkmBeyondSpread); // 0.2 > 3 × 0.01
        string md = File.ReadAllText(report.MarkdownPath);
        Assert.Contains("arXiv 2411.12364", md);
        Assert.Contains("MORE than 3× the seed-to-seed spread", md);
        Assert.Contains("\npkm+rm_softmax,1 2 3,3,5.1", File.ReadAllText(report.CsvPath));

        // a spread as large as the gain: no
        string noisy = _f.Folder("ladder-noisy");
        Comparison.OpenFolder(noisy, s, "test");
        log = new ResultsLog(noisy);
        Add("pkm", 5.20, 5.00, 5.40);
        Add("ultramem", 5.10, 5.00, 5.20);
        var r2 = ComparisonReport.Write(noisy);
        Assert.False(r2.UltraMemBeatsPkmBeyondSpread);
        Assert.Contains("does NOT improve", r2.Verdict);
    }
}
