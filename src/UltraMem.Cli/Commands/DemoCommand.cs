using System.CommandLine;
using UltraMem.Inference;
using UltraMem.Model;
using UltraMem.Training;

namespace UltraMem.Cli.Commands;

/// <summary>The embedded default job: a tiny model on the bundled Brown corpus, end to end, in about ten minutes on 2 cores.</summary>
static class DemoCommand
{
    public static TrainConfig DemoTrainConfig =>
        new()
        {
            Corpus = "brown",
            TokenizerVocabSize = 8192,
            BatchSize = 16,
            SeqLen = 128,
            MaxSteps = 1200,
            LearningRate = 4e-3,
            EvalInterval = 100,
            EvalBatches = null,
            CheckpointInterval = 400,
            Seed = 1234,
        };

    public static Command Create()
    {
        var steps = Cli.Opt("--steps", "Optimizer steps.", DemoTrainConfig.MaxSteps, true);
        var outDir = Cli.Opt<string?>("--out", "Run folder (default: runs/demo-<timestamp>).");
        var prompt = Cli.Opt("--prompt", "Prompt for the closing sample.", "The jury said", true);
        var cache = Cli.CacheDir();
        var device = Cli.Device();
        var cmd = new Command(
            "demo",
            "Train the tiny preset on the bundled Brown corpus, print validation losses, plot the loss curve, and sample text."
        )
        {
            steps,
            outDir,
            prompt,
            cache,
            device,
        };
        cmd.SetAction(r =>
        {
            var dev = Platform.Devices.Parse(r.GetValue(device)!); // before any work: a missing GPU is one line
            var train = DemoTrainConfig with { MaxSteps = r.GetValue(steps) };
            string run = r.GetValue(outDir) ?? Path.Combine("runs", $"demo-{DateTime.Now:yyyyMMdd-HHmmss}");
            // under two epochs of data, dropout only slows learning down: the demo turns it off
            var model = ModelConfig.Preset("tiny", train.TokenizerVocabSize) with
            {
                Dropout = 0.0,
            };
            Console.WriteLine(
                $"UltraMem.NET demo: tiny decoder (d_model {model.DModel}, {model.NLayers} layers) on the Brown corpus, {train.MaxSteps} steps of {train.BatchSize}×{train.SeqLen} tokens -> {run}"
            );
            using var cts = Cli.InstallCtrlC();
            var result = Trainer.Run(
                new TrainRequest
                {
                    RunDir = run,
                    Device = dev,
                    Model = model,
                    Train = train,
                    CacheDir = r.GetValue(cache)!,
                    Cancel = cts.Token,
                }
            );

            Console.WriteLine();
            Console.WriteLine("validation loss (nats/token)");
            var val = result.Metrics.Where(m => m.Split == "val").ToList();
            var trainLoss = result.Metrics.Where(m => m.Split == "train").ToDictionary(m => m.Step, m => m.Values["loss"]);
            Cli.PrintTable(
                new[] { "step", "tokens", "train loss", "val loss", "val ppl" },
                val.Select(v =>
                    (IReadOnlyList<string>)
                        new[]
                        {
                            v.Step.ToString(),
                            Format.Count((long)v.Values.GetValueOrDefault("tokens")),
                            trainLoss.TryGetValue(v.Step, out var tl) ? tl.ToString("F3") : "",
                            v.Values["loss"].ToString("F3"),
                            v.Values["ppl"].ToString("F1"),
                        }
                )
            );
            Console.WriteLine(
                $"unigram entropy of the training split: {result.UnigramEntropy:F3} nats/token (a model that ignores context)"
            );
            Console.WriteLine(
                $"throughput {result.TokensPerSecond:N0} tokens/s; loss curve: {Path.Combine(run, "loss.png")}; checkpoint: {result.CheckpointDir}"
            );

            var ckpt = Checkpoint.Open(result.CheckpointDir);
            var tok = ckpt.LoadTokenizer();
            using var lm = ckpt.LoadModel().ToDevice(dev);
            string p = r.GetValue(prompt)!;
            var ids = Generator.Generate(
                lm,
                tok.Encode(p),
                80,
                new SamplingOptions(Temperature: 0.8, TopK: 40, TopP: 0.95, Seed: 7),
                tok.EndOfTextId
            );
            Console.WriteLine();
            Console.WriteLine("sample (temperature 0.8, top-k 40, top-p 0.95):");
            Console.WriteLine(p + tok.Decode(ids.ToArray()));
            return result.Interrupted ? 130 : 0;
        });
        return cmd;
    }
}
