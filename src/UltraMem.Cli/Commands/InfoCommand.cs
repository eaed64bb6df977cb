using System.CommandLine;
using UltraMem.Model;
using UltraMem.Training;

namespace UltraMem.Cli.Commands;

static class InfoCommand
{
    public static Command Create()
    {
        var modelOptions = Cli.ModelOptions.Create();
        var checkpoint = Cli.Opt<string?>("--checkpoint", "Describe the model of a checkpoint instead.");
        var vocab = Cli.Opt("--vocab-size", "Vocabulary size for presets.", 8192, true);
        var json = Cli.Opt<bool>("--json", "Print the model config as JSON.");
        var cmd = new Command("info", "Total and activated (per-token) parameters and FLOPs per component.") { checkpoint, vocab, json };
        modelOptions.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var cfg = r.GetValue(checkpoint) is { } c
                ? Checkpoint.Open(c).ModelConfig
                : modelOptions.Resolve(r, r.GetValue(vocab));
            if (r.GetValue(json)) { Console.WriteLine(cfg.ToJson()); return 0; }
            using var model = new TransformerLM(cfg);
            var rows = model.ParameterReport();
            Console.WriteLine($"d_model {cfg.DModel}, n_layers {cfg.NLayers}, n_heads {cfg.NHeads}, ffn_hidden {cfg.FfnHiddenResolved}, vocab {cfg.VocabSize}, max_seq_len {cfg.MaxSeqLen}, tied embeddings: {cfg.TieEmbeddings}");
            Console.WriteLine();
            Cli.PrintTable(new[] { "component", "total params", "activated/token", "FLOPs/token" },
                rows.Select(x => (IReadOnlyList<string>)new[] { x.Component, x.Count.Total.ToString("N0"), x.Count.Activated.ToString("N0"), x.Count.FlopsPerToken.ToString("N0") }));
            for (int j = 0; j < model.memory_layers.Count; j++)
                if (model.memory_layers[j] switch { Layers.Memory.MemoryLayer m => m.Describe(), Layers.Moe.MixtureOfExperts m => m.Describe(), _ => null } is { } shape)
                {
                    if (j == 0) Console.WriteLine();
                    Console.WriteLine($"memory_layers.{j}: {shape}");
                }
            var sum = rows.Aggregate(new Layers.ParameterCount(), (a, x) => a + x.Count);
            long nonEmbedding = sum.Total - (long)cfg.VocabSize * cfg.DModel * (cfg.TieEmbeddings ? 1 : 2);
            Console.WriteLine();
            Console.WriteLine($"total parameters      {sum.Total,15:N0}  ({Format.Count(sum.Total)}; {Format.Count(nonEmbedding)} excluding embeddings/head)");
            Console.WriteLine($"activated per token   {sum.Activated,15:N0}  ({Format.Count(sum.Activated)})");
            Console.WriteLine($"FLOPs per token       {sum.FlopsPerToken,15:N0}  (forward; training ≈ 3×)");
            return 0;
        });
        return cmd;
    }
}
