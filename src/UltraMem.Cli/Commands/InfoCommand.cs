using System.CommandLine;
using UltraMem.Architectures;
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
        var json = Cli.Opt<bool>(
            "--json",
            "Print the model config as JSON, resolved: every setting its layers use, defaults filled in (a starting point for --config)."
        );
        var initCheck = Cli.Opt<bool>(
            "--init-check",
            "Build the model and compare, at initialisation, each plugged-in layer's output std with its block FFN's on random unit-variance input (the normalised FFN input)."
        );
        var cmd = new Command("info", "Total and activated (per-token) parameters and FLOPs per component.")
        {
            checkpoint,
            vocab,
            json,
            initCheck,
        };
        modelOptions.AddTo(cmd);
        var sets = Cli.SetOption.Create(takesTrain: false, "the model config (of --checkpoint too)");
        sets.AddTo(cmd);
        cmd.SetAction(r =>
        {
            var cfg = sets.ApplyModel(
                r,
                r.GetValue(checkpoint) is { } c ? Checkpoint.Open(c).ModelConfig : modelOptions.Resolve(r, r.GetValue(vocab))
            );
            if (r.GetValue(json))
            {
                Console.WriteLine(cfg.Resolve().ToJson());
                return 0;
            }
            var rows = ModelAccounting.Report(cfg); // from the config alone: nothing is allocated
            Console.WriteLine(
                $"d_model {cfg.DModel}, n_layers {cfg.NLayers}, n_heads {cfg.NHeads}, ffn_hidden {cfg.FfnHiddenResolved}, vocab {cfg.VocabSize}, max_seq_len {cfg.MaxSeqLen}, tied embeddings: {cfg.TieEmbeddings}"
            );
            Console.WriteLine();
            Cli.PrintTable(
                new[] { "component", "total params", "activated/token", "FLOPs/token" },
                rows.Select(x =>
                    (IReadOnlyList<string>)
                        new[]
                        {
                            x.Component,
                            x.Count.Total.ToString("N0"),
                            x.Count.Activated.ToString("N0"),
                            x.Count.FlopsPerToken.ToString("N0"),
                        }
                )
            );
            bool first = true;
            var resolved = cfg.Resolve();
            for (int j = 0; j < resolved.MemoryLayers.Count; j++)
            {
                var p = resolved.MemoryLayers[j];
                string? shape = SlotKinds.Get(p.Kind).Describe(p.Settings!, resolved.ForSlots(), resolved.SharedValueRows);
                if (shape is null)
                    continue;
                if (first)
                {
                    Console.WriteLine();
                    first = false;
                }
                Console.WriteLine($"memory_layers.{j}: {shape}");
            }
            var sum = rows.Aggregate(new Layers.ParameterCount(), (a, x) => a + x.Count);
            long nonEmbedding = sum.Total - ModelAccounting.EmbeddingParameters(cfg);
            Console.WriteLine();
            Console.WriteLine(
                $"total parameters      {sum.Total, 15:N0}  ({Format.Count(sum.Total)}; {Format.Count(nonEmbedding)} excluding embeddings/head)"
            );
            Console.WriteLine($"activated per token   {sum.Activated, 15:N0}  ({Format.Count(sum.Activated)})");
            Console.WriteLine($"FLOPs per token       {sum.FlopsPerToken, 15:N0}  (forward; training ≈ 3×)");
            if (r.GetValue(checkpoint) is null && r.GetValue(modelOptions.Arch) is { } arch && r.GetValue(modelOptions.Config) is null)
            {
                var (flops, total) = Families.Targets(ModelConfig.Preset(r.GetValue(modelOptions.Preset)!, r.GetValue(vocab)));
                Console.WriteLine();
                Console.WriteLine(
                    $"matched family '{r.GetValue(modelOptions.Preset)}': FLOPs/token {sum.FlopsPerToken / (double)flops:F3}x the family's {Format.Count(flops)}"
                        + (
                            arch == "dense"
                                ? " (dense: total parameters not matched)"
                                : $", total parameters {sum.Total / (double)total:F3}x the family's {Format.Count(total)}"
                        )
                        + "  (ultramem match --preset ... lists the family)"
                );
            }
            if (r.GetValue(initCheck))
                InitCheck(cfg);
            return 0;
        });
        return cmd;
    }

    /// <summary>Output std of every plugged-in layer vs the FFN of the block it reads, at init, on x ~ N(0, 1) (4096 tokens, seed
    /// 0).</summary>
    static void InitCheck(ModelConfig cfg)
    {
        TorchSharp.torch.manual_seed(0);
        using var model = new TransformerLM(cfg);
        model.eval();
        using var _ = TorchSharp.torch.no_grad();
        var x = TorchSharp.torch.randn(1, 4096, cfg.DModel);
        var ffn = Enumerable.Range(0, cfg.NLayers).FirstOrDefault(i => model.layers[i].mlp is not null, -1);
        double? ffnStd = ffn < 0 ? null : model.layers[ffn].mlp!.forward(x).std().item<float>();
        Console.WriteLine();
        Console.WriteLine(
            ffnStd is { } f
                ? $"init check on x ~ N(0, 1), 4096 tokens: block FFN output std {f:G4}"
                : "init check: the model has no block FFN to compare with"
        );
        for (int j = 0; j < model.memory_layers.Count; j++)
        {
            double std = model.memory_layers[j].forward(x).std().item<float>();
            Console.WriteLine(
                $"  memory_layers.{j} ({cfg.MemoryLayers[j].Kind}): output std {std:G4}"
                    + (ffnStd is { } g ? $" = {std / g:F3}x the FFN's (variance {std * std / (g * g):F3}x)" : "")
            );
        }
    }
}
