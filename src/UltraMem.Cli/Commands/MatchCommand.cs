using System.CommandLine;
using UltraMem.Architectures;
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
        var reference = Cli.Opt<string?>(
            "--reference",
            "Reference model config JSON: size --arch to its activated FLOPs/token and total parameters instead."
        );
        var arch = Cli.Opt<string?>(
            "--arch",
            "With --reference: the architecture to size (" + string.Join(", ", Families.Architectures) + ")."
        );
        var output = Cli.Opt<string?>("--out", "With --reference: write the sized config JSON here (refuses to overwrite).");
        var cmd = new Command(
            "match",
            "Configs with equal activated compute and equal total parameters: the matched family of a preset, or one architecture sized to a reference config."
        )
        {
            preset,
            vocab,
            reference,
            arch,
            output,
        };
        var sets = Cli.SetOption.Create(
            takesTrain: false,
            "the preset's dense model before the family is sized to it (or the --reference config)"
        );
        sets.AddTo(cmd);
        cmd.SetAction(r =>
        {
            if (r.GetValue(reference) is { } refPath)
            {
                if (r.GetValue(arch) is not { } a)
                    throw new UltraMemException("--reference needs --arch (the architecture to size)");
                if (!File.Exists(refPath))
                    throw new UltraMemException($"reference config not found: {refPath}");
                var refConfig = sets.ApplyModel(r, ModelConfig.FromJson(File.ReadAllText(refPath), refPath));
                var target = ModelAccounting.Total(refConfig);
                var sized = FamilyMatcher.Match(Families.Template(refConfig, a), target.FlopsPerToken, a == "dense" ? null : target.Total);
                Print(new[] { ("reference", refConfig), (a, sized) }, target.FlopsPerToken, target.Total);
                if (r.GetValue(output) is { } outPath)
                {
                    if (File.Exists(outPath))
                        throw new UltraMemException($"{outPath} exists; not overwriting it (choose another --out or delete it)");
                    IO.AtomicFile.WriteAllText(outPath, sized.ToJson());
                    Console.WriteLine($"\nwrote {outPath}");
                }
                else
                    Console.WriteLine("\n" + sized.ToJson());
                return 0;
            }
            var b = sets.ApplyModel(r, ModelConfig.Preset(r.GetValue(preset)!, r.GetValue(vocab)));
            var (flops, total) = Families.Targets(b);
            Console.WriteLine(
                $"matched family of preset '{r.GetValue(preset)}': activated FLOPs/token {Format.Count(flops)} (the dense preset's, or more where a sparse member needs it to keep half its FFN), total parameters {Format.Count(total)} (the ladder's ultramem rung)"
            );
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
        Cli.PrintTable(
            new[] { "arch", "total params", "x total", "activated/token", "FLOPs/token", "x FLOPs", "ffn_hidden", "sparse part" },
            rows.Select(x =>
            {
                var s = ModelAccounting.Total(x.Config);
                return (IReadOnlyList<string>)
                    new[]
                    {
                        x.Name,
                        s.Total.ToString("N0"),
                        $"{s.Total / (double)total:F3}",
                        s.Activated.ToString("N0"),
                        s.FlopsPerToken.ToString("N0"),
                        $"{s.FlopsPerToken / (double)flops:F3}",
                        x.Config.FfnHiddenResolved.ToString(),
                        SparsePart(x.Config),
                    };
            })
        );
    }

    /// <summary>The sparse knob in a few words: memory layers × n_keys (N rows), a shared table.</summary>
    static string SparsePart(ModelConfig c)
    {
        // the first sparse layer, described by its kind, with the number of layers of the same settings type
        var first = c
            .MemoryLayers.Where(p => p.Settings is not null)
            .Select(p => (Placement: p, Kind: SlotKinds.Get(p.Kind)))
            .FirstOrDefault(x => x.Kind.SparsePart(x.Placement.Settings!, c.ForSlots(), 1) is not null);
        if (first.Kind is null)
            return "-";
        int layers = c.MemoryLayers.Count(p => p.Settings?.GetType() == first.Kind.SettingsType);
        string shared = c.SharedValueRows is { } g ? $", shared table {g:N0} rows" : "";
        return first.Kind.SparsePart(first.Placement.Settings!, c.ForSlots(), layers) + shared;
    }
}
