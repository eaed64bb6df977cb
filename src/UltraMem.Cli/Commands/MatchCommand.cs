using System.CommandLine;
using UltraMem.Layers;
using UltraMem.Model;
using UltraMem.Training;

namespace UltraMem.Cli.Commands;

/// <summary>
/// <c>ultramem match</c>: the matched family of a preset as a table (equal activated FLOPs per token; equal total parameters for
/// the sparse members), or one architecture sized to match any reference config.
/// </summary>
static class MatchCommand
{
    public static Command Create()
    {
        var preset = Cli.Opt("--preset", "Preset whose family to show: tiny, small, base.", "tiny", true);
        var vocab = Cli.Opt("--vocab-size", "Vocabulary size for presets.", 8192, true);
        var reference = Cli.Opt<string?>("--reference", "Reference model config JSON: size --arch to its activated FLOPs/token and total parameters instead.");
        var arch = Cli.Opt<string?>("--arch", "With --reference: the architecture to size (" + string.Join(", ", Families.Architectures) + ").");
        var output = Cli.Opt<string?>("--out", "With --reference: write the sized config JSON here (refuses to overwrite).");
        var cmd = new Command("match", "Configs with equal activated compute and equal total parameters: the matched family of a preset, or one architecture sized to a reference config.")
        { preset, vocab, reference, arch, output };
        cmd.SetAction(r =>
        {
            if (r.GetValue(reference) is { } refPath)
            {
                if (r.GetValue(arch) is not { } a) throw new UltraMemException("--reference needs --arch (the architecture to size)");
                if (!File.Exists(refPath)) throw new UltraMemException($"reference config not found: {refPath}");
                var refConfig = ModelConfig.FromJson(File.ReadAllText(refPath), refPath);
                var target = ModelAccounting.Total(refConfig);
                var sized = FamilyMatcher.Match(Families.Template(refConfig, a), target.FlopsPerToken, a == "dense" ? null : target.Total);
                Print(new[] { ("reference", refConfig), (a, sized) }, target.FlopsPerToken, target.Total);
                if (r.GetValue(output) is { } outPath)
                {
                    if (File.Exists(outPath)) throw new UltraMemException($"{outPath} exists; not overwriting it (choose another --out or delete it)");
                    IO.AtomicFile.WriteAllText(outPath, sized.ToJson());
                    Console.WriteLine($"\nwrote {outPath}");
                }
                else Console.WriteLine("\n" + sized.ToJson());
                return 0;
            }
            var b = ModelConfig.Preset(r.GetValue(preset)!, r.GetValue(vocab));
            var (flops, total) = Families.Targets(b);
            Console.WriteLine($"matched family of preset '{r.GetValue(preset)}': activated FLOPs/token {Format.Count(flops)} (the dense preset's, or more where a sparse member needs it to keep half its FFN), total parameters {Format.Count(total)} (the ladder's ultramem rung)");
            Console.WriteLine();
            Print(Families.Members.Select(m => (m, Families.Matched(b, m, (flops, total)))).ToList(), flops, total);
            Console.WriteLine();
            Console.WriteLine("Build one with: ultramem train|info --preset " + r.GetValue(preset) + " --arch NAME");
            return 0;
        });
        return cmd;
    }

    static void Print(IReadOnlyList<(string Name, ModelConfig Config)> rows, long flops, long total)
    {
        Cli.PrintTable(new[] { "arch", "total params", "x total", "activated/token", "FLOPs/token", "x FLOPs", "ffn_hidden", "sparse part" },
            rows.Select(x =>
            {
                var s = ModelAccounting.Total(x.Config);
                return (IReadOnlyList<string>)new[]
                {
                    x.Name, s.Total.ToString("N0"), $"{s.Total / (double)total:F3}", s.Activated.ToString("N0"), s.FlopsPerToken.ToString("N0"),
                    $"{s.FlopsPerToken / (double)flops:F3}", x.Config.FfnHiddenResolved.ToString(), SparsePart(x.Config),
                };
            }));
    }

    /// <summary>The sparse knob in a few words: memory layers × n_keys (N rows), a shared table.</summary>
    static string SparsePart(ModelConfig c)
    {
        var moe = c.MemoryLayers.Where(p => p.Moe is not null).Select(p => p.Moe!).ToList();
        if (moe.Count > 0) return $"{moe.Count} x {moe[0].TopK}in{moe[0].Experts} (expert_hidden {moe[0].ExpertHiddenResolved(c.FfnHiddenResolved)}; replace the FFNs)";
        var peer = c.MemoryLayers.Where(p => p.Peer is not null).Select(p => p.Peer!).ToList();
        if (peer.Count > 0) return $"{peer.Count} x n={peer[0].NKeys} ({peer[0].Experts:N0} experts, h={peer[0].Heads} x k={peer[0].TopK})";
        var mems = c.MemoryLayers.Where(p => p.Memory is not null).Select(p => p.Memory!).ToList();
        if (mems.Count == 0) return "-";
        var m = mems[0];
        string shared = c.SharedValueRows is { } g ? $", shared table {g:N0} rows" : "";
        return $"{mems.Count} x n={m.NKeys} (N={m.Rows:N0}, Dv={m.ValueDimResolved(c.DModel)}" + (m.PreValueDim is { } dp ? $", Dp={dp}" : "") + $", H={m.Heads}, m={m.TopM}){shared}";
    }
}
