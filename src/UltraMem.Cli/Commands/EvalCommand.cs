using System.CommandLine;
using UltraMem.Data;
using UltraMem.Tokenization;
using UltraMem.Training;

namespace UltraMem.Cli.Commands;

static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint")
        {
            Description = "Run folder (uses its latest checkpoint) or checkpoint folder.",
            Required = true,
        };
        var corpus = Cli.Opt<string?>(
            "--corpus",
            "Corpus to evaluate on (default: the one the model was trained on); its validation split is used."
        );
        var tokenizer = Cli.Opt<string?>("--tokenizer", "Tokenizer folder (vocab.json + merges.txt); must match the checkpoint's.");
        var batches = Cli.Opt<int?>("--batches", "Evaluate only this many batches (default: the whole validation split).");
        var batch = Cli.Opt<int?>("--batch-size", "Sequences per batch (default: the training batch size).");
        var cache = Cli.CacheDir();
        var device = Cli.Device();
        var cmd = new Command("eval", "Validation loss and perplexity of a checkpoint.")
        {
            checkpoint,
            corpus,
            tokenizer,
            batches,
            batch,
            cache,
            device,
        };
        cmd.SetAction(r =>
        {
            var dev = Platform.Devices.Parse(r.GetValue(device)!); // before any work: a missing GPU is one line
            if (r.GetValue(batch) is { } bs && bs < 1)
                throw new UltraMemException($"--batch-size must be positive (got {bs})");
            if (r.GetValue(batches) is { } nb && nb < 1)
                throw new UltraMemException($"--batches must be positive (got {nb})");
            var ckpt = Checkpoint.Open(r.GetValue(checkpoint)!);
            var tok = ckpt.LoadTokenizer();
            if (r.GetValue(tokenizer) is { } tokDir)
            {
                var given = TextTokenizer.Load(tokDir);
                if (given.Fingerprint != tok.Fingerprint)
                    throw new UltraMemException(
                        $"tokenizer {tokDir} does not match the checkpoint's tokenizer (fingerprint {given.Fingerprint[..12]} vs {tok.Fingerprint[..12]})"
                    );
            }
            var t = ckpt.TrainConfig;
            TorchSharp.torch.set_num_threads(t.Threads ?? Environment.ProcessorCount);
            using var data = PreparedData.Prepare(
                r.GetValue(corpus) ?? t.Corpus,
                t.TokenizerVocabSize,
                t.ValidationFraction,
                r.GetValue(cache)!,
                tok,
                Console.Error.WriteLine
            );
            int seqLen = t.SeqLen ?? ckpt.ModelConfig.MaxSeqLen;
            int batchSize = r.GetValue(batch) ?? t.BatchSize;
            // a batch holds at most the sequences the split has
            long rows = Math.Max(1, Math.Min(batchSize, (data.Validation.Count - 1) / seqLen));
            Inference.InferenceMemory.EnsureFits(
                $"evaluating {ckpt.Directory} with batches of {rows} × {seqLen} tokens",
                ckpt.ModelConfig,
                Inference.InferenceMemory.EvaluationBytes(ckpt.ModelConfig, rows, seqLen),
                Platform.MachineMemory.AvailableBytes(),
                "--batch-size"
            );
            using var model = ckpt.LoadModel().ToDevice(dev);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            double loss = Trainer.Evaluate(model, data, batchSize, seqLen, r.GetValue(batches));
            Console.WriteLine($"checkpoint   {ckpt.Directory} (step {ckpt.State.Step})");
            Console.WriteLine($"corpus       {r.GetValue(corpus) ?? t.Corpus} (validation split, {data.Validation.Count:N0} tokens)");
            Console.WriteLine($"val loss     {loss:F4} nats/token");
            Console.WriteLine($"perplexity   {Math.Exp(loss):F2}");
            Console.WriteLine($"unigram H    {data.UnigramEntropy:F4} nats/token (context-free baseline)");
            Console.WriteLine($"time         {sw.Elapsed.TotalSeconds:F1} s");
            var diag = model.Diagnostics(reset: true);
            if (diag.Count > 0)
            {
                Console.WriteLine();
                Console.WriteLine("memory-layer diagnostics over this evaluation (docs/memory-layers.md#diagnostics):");
                foreach (var (k, v) in diag.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                    Console.WriteLine($"  {k, -28} {v:G5}");
            }
            return 0;
        });
        return cmd;
    }
}
