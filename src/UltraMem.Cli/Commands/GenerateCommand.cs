using System.CommandLine;
using UltraMem.Inference;
using UltraMem.Training;

namespace UltraMem.Cli.Commands;

static class GenerateCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint")
        {
            Description = "Run folder (uses its latest checkpoint) or checkpoint folder.",
            Required = true,
        };
        var prompt = Cli.Opt("--prompt", "Text to continue.", "The", true);
        var maxTokens = Cli.Opt("--max-tokens", "Maximum new tokens.", 200, true);
        var temperature = Cli.Opt("--temperature", "Sampling temperature (0 = greedy).", 0.8, true);
        var topK = Cli.Opt("--top-k", "Keep the k most likely tokens (0 = all).", 50, true);
        var topP = Cli.Opt("--top-p", "Nucleus sampling mass (1 = off).", 0.95, true);
        var seed = Cli.Opt("--seed", "Sampling seed.", 0, true);
        var device = Cli.Device();
        var cmd = new Command("generate", "Sample a continuation through the KV cache.")
        {
            checkpoint,
            prompt,
            maxTokens,
            temperature,
            topK,
            topP,
            seed,
            device,
        };
        cmd.SetAction(r =>
        {
            var dev = Platform.Devices.Parse(r.GetValue(device)!); // before any work: a missing GPU is one line
            var options = new SamplingOptions(r.GetValue(temperature), r.GetValue(topK), r.GetValue(topP), r.GetValue(seed)).Validate();
            int max = r.GetValue(maxTokens);
            if (max < 0)
                throw new UltraMemException($"--max-tokens must be >= 0 (got {max})");
            var ckpt = Checkpoint.Open(r.GetValue(checkpoint)!);
            var tok = ckpt.LoadTokenizer();
            Inference.InferenceMemory.EnsureFits(
                $"sampling from {ckpt.Directory}",
                ckpt.ModelConfig,
                Inference.InferenceMemory.GenerationBytes(ckpt.ModelConfig),
                Platform.MachineMemory.AvailableBytes()
            );
            using var model = ckpt.LoadModel().ToDevice(dev);
            if (model.Config.VocabSize != tok.VocabSize)
                throw new UltraMemException(
                    $"checkpoint vocab_size {model.Config.VocabSize} does not match its tokenizer ({tok.VocabSize})"
                );
            string text = r.GetValue(prompt)!;
            var ids = tok.Encode(text);
            Console.Write(text);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            var produced = new List<int>();
            string shown = "";
            Generator.Generate(
                model,
                ids,
                max,
                options,
                tok.EndOfTextId,
                id =>
                {
                    produced.Add(id);
                    string all = tok.Decode(produced.ToArray());
                    // print only complete characters: hold back a trailing replacement char of a partial UTF-8 sequence
                    string stable = all.EndsWith('\uFFFD') ? all[..^1] : all;
                    if (stable.Length > shown.Length && stable.StartsWith(shown))
                    {
                        Console.Write(stable[shown.Length..]);
                        shown = stable;
                    }
                }
            );
            string final = tok.Decode(produced.ToArray());
            if (final.Length > shown.Length && final.StartsWith(shown))
                Console.Write(final[shown.Length..]);
            Console.WriteLine();
            Console.Error.WriteLine(
                $"[{produced.Count} tokens in {sw.Elapsed.TotalSeconds:F2} s, {produced.Count / Math.Max(1e-9, sw.Elapsed.TotalSeconds):F1} tok/s]"
            );
            return 0;
        });
        return cmd;
    }
}
