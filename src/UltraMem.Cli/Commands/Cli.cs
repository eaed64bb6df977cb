using System.CommandLine;
using System.Runtime.InteropServices;
using UltraMem.Architectures;
using UltraMem.Model;
using UltraMem.Training;

namespace UltraMem.Cli.Commands;

/// <summary>Options and helpers shared by the commands.</summary>
static class Cli
{
    public static Exception Unwrap(Exception e)
    {
        while (
            e is System.Reflection.TargetInvocationException or AggregateException or TypeInitializationException
            && e.InnerException is not null
        )
            e = e.InnerException!;
        return e;
    }

    /// <summary>
    /// The one error line (without the <c>ultramem: error: </c> prefix) for a failure the user can act on: our own
    /// validation, file-system errors, and memory exhaustion or any other error raised inside libtorch (its first line, not
    /// its C++ frames). Null for anything else: a defect, which is printed whole.
    /// </summary>
    public static string? ErrorLine(Exception e)
    {
        e = Unwrap(e);
        switch (e)
        {
            case UltraMemException or IOException or UnauthorizedAccessException:
                return e.Message;
            case OutOfMemoryException:
                return $"out of memory ({e.Message.TrimEnd('.')}); use a smaller model, batch or sequence length";
            case ExternalException when LibTorchMessage(e.Message) is { } torch:
                var oom = System.Text.RegularExpressions.Regex.Match(torch, @"can't allocate memory: you tried to allocate (\d+) bytes");
                if (oom.Success)
                    return $"out of memory: libtorch could not allocate {SizeText(double.Parse(oom.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))} "
                        + "(the machine's memory or a process limit such as ulimit -v is exhausted); "
                        + "use a smaller model, batch or sequence length";
                return $"libtorch: {torch}";
            default:
                return null;
        }
    }

    static string SizeText(double bytes) => bytes >= 1e9 ? $"{bytes / 1e9:F1} GB" : $"{bytes / 1e6:F1} MB";

    /// <summary>The first line of a libtorch error without its source location (<c>[enforce fail at alloc_cpu.cpp:127] err == 0.
    /// </c>); null when the text is not libtorch's.</summary>
    static string? LibTorchMessage(string message)
    {
        string first = message.Split('\n', 2)[0].Trim();
        var m = System.Text.RegularExpressions.Regex.Match(first, @"^\[enforce fail at [^\]]*\]\s*(err == 0\.\s*)?(?<rest>.*)$");
        if (m.Success)
            return m.Groups["rest"].Value;
        return
            message.Contains("frame #0:", StringComparison.Ordinal) || message.Contains("Exception raised from", StringComparison.Ordinal)
            ? first
            : null;
    }

    public static Option<T> Opt<T>(string name, string description, T? defaultValue = default, bool hasDefault = false)
    {
        var o = new Option<T>(name) { Description = description };
        if (hasDefault)
            o.DefaultValueFactory = _ => defaultValue!;
        return o;
    }

    /// <summary>The member of <typeparamref name="T"/> named <paramref name="name"/> in JSON; an unknown name is an error naming <paramref
    /// name="option"/> and the choices.</summary>
    public static T ParseEnum<T>(string name, string option)
        where T : struct, Enum =>
        IO.JsonEnum.TryParse<T>(name.Trim(), out var value)
            ? value
            : throw new UltraMemException($"{option}: {IO.JsonEnum.Expected(typeof(T), name)}");

    /// <summary>A command-line parse error in words: "Cannot parse argument 'abc' for option '--steps' as expected type
    /// 'System.Nullable`1[System.Int64]'" becomes "--steps: 'abc' is not an integer".</summary>
    public static string ParseErrorText(string message)
    {
        var m = System.Text.RegularExpressions.Regex.Match(
            message,
            @"Cannot parse argument '(?<value>.*)' for option '(?<option>[^']+)' as expected type '(?<type>[^']+)'"
        );
        if (!m.Success)
            return message.TrimEnd('.');
        string words = IO.StrictJson.TypeWords(m.Groups["type"].Value, otherwise: "a valid value");
        return $"{m.Groups["option"].Value}: '{m.Groups["value"].Value}' is not {words}";
    }

    /// <summary>
    /// A corpus as a run records it: a path that exists becomes absolute, so the run resumes from any working directory; a
    /// named corpus (<c>brown</c>, …) stays as it is.
    /// </summary>
    public static string CorpusArgument(string corpus) =>
        File.Exists(corpus) || Directory.Exists(corpus) ? Path.GetFullPath(corpus) : corpus;

    /// <summary>A comma-separated option value as trimmed, non-empty items; at least one, or an error naming <paramref
    /// name="option"/>.</summary>
    public static string[] ParseList(string s, string option)
    {
        var parts = s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0)
            throw new UltraMemException($"{option} needs at least one value");
        return parts;
    }

    /// <summary><c>--device</c>: where the command computes (models are built on the CPU and moved; README, "Devices").</summary>
    public static Option<string> Device() =>
        Opt("--device", "Device: cpu, cuda or cuda:N (needs TorchSharp's CUDA package; README, \"Devices\").", "cpu", true);

    public static Option<string> CacheDir() =>
        Opt(
            "--cache-dir",
            "Cache for prepared corpora, tokenizers and token files (default: $ULTRAMEM_CACHE or ~/.cache/ultramem).",
            DefaultCacheDir(),
            true
        );

    public static string DefaultCacheDir()
    {
        string? env = Environment.GetEnvironmentVariable("ULTRAMEM_CACHE");
        if (!string.IsNullOrEmpty(env))
            return env;
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string baseDir = !string.IsNullOrEmpty(xdg)
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(baseDir, "ultramem");
    }

    /// <summary>The options that choose a model (--preset, --arch, --config, --memory), shared by the commands that build one.</summary>
    public sealed record ModelOptions(Option<string> Preset, Option<string?> Arch, Option<string?> Config, Option<string[]> Memory)
    {
        public static ModelOptions Create() =>
            new(
                Opt("--preset", "Model preset: tiny, small, base.", "tiny", true),
                Opt<string?>(
                    "--arch",
                    "Architecture on the preset, sized to the preset's matched family (activated FLOPs of the dense preset; total parameters of the family's UltraMem): "
                        + string.Join(", ", Families.Members)
                        + ", a rung of the UltraMem ablation ladder ("
                        + string.Join(", ", MemoryPresets.Ladder)
                        + "), ultramemv2+ring, or a study variant ("
                        + string.Join(", ", Families.Variants.Keys)
                        + "; docs/results.md §5). See `ultramem match`."
                ),
                Opt<string?>("--config", "Model config JSON (snake_case ModelConfig); overrides --preset."),
                new Option<string[]>("--memory")
                {
                    Description = "Add a layer KIND@PLACEMENT (placement a, a! = replace FFN, a:b = skip); repeatable.",
                    AllowMultipleArgumentsPerToken = false,
                }
            );

        /// <summary>Adds the four options in front of the command's own, so they lead its --help.</summary>
        public void AddTo(Command cmd)
        {
            cmd.Options.Insert(0, Preset);
            cmd.Options.Insert(1, Arch);
            cmd.Options.Insert(2, Config);
            cmd.Options.Insert(3, Memory);
        }

        public ModelConfig Resolve(System.CommandLine.ParseResult r, int vocabSize) =>
            ResolveModel(r.GetValue(Config), r.GetValue(Preset)!, r.GetValue(Memory) ?? Array.Empty<string>(), vocabSize, r.GetValue(Arch));
    }

    /// <summary>
    /// The repeatable <c>--set PATH=VALUE</c> option: overrides of model-config fields (and, on <c>train</c>, training-config fields)
    /// by their snake_case JSON paths, applied after every other option, left to right (<see cref="IO.JsonOverrides"/>).
    /// </summary>
    public sealed record SetOption(Option<string[]> Set, bool TakesTrain)
    {
        static readonly (string Name, Type Type)[] Roots = { ("model", typeof(ModelConfig)), ("train", typeof(TrainConfig)) };

        /// <param name="takesTrain">Whether the command has a training config (only <c>train</c>).</param>
        /// <param name="appliesTo">What the overrides change, for --help (default: the model config).</param>
        public static SetOption Create(bool takesTrain, string? appliesTo = null) =>
            new(
                new Option<string[]>("--set")
                {
                    Description =
                        "Override a config field, PATH=VALUE; repeatable, applied after the other options, left to right. PATH is "
                        + (
                            takesTrain
                                ? "a snake_case JSON path into the model config, else the training config "
                                    + "(prefix model. or train. to be explicit), e.g. memory_layers[0].memory.top_m=32, learning_rate=1e-3. "
                                : $"a snake_case JSON path into {appliesTo ?? "the model config"}, e.g. d_model=192, max_seq_len=512. "
                        )
                        + "VALUE is JSON if it parses, else a string (query_norm=none). A block that is null (a layer without a memory block) "
                        + "is not created field by field: set it whole, --set 'memory_layers[0].memory={\"n_keys\":64}' "
                        + "(other fields: their defaults).",
                    HelpName = "PATH=VALUE",
                    AllowMultipleArgumentsPerToken = false,
                },
                takesTrain
            );

        public void AddTo(Command cmd) => cmd.Options.Add(Set);

        /// <summary>The training config with the --set overrides of training fields applied (validated later, with the model).</summary>
        public TrainConfig ApplyTrain(ParseResult r, TrainConfig config) => Apply(r, config, 1, j => TrainConfig.FromJson(j, "--set"));

        /// <summary>The model config with the --set overrides of model fields applied, validated.</summary>
        public ModelConfig ApplyModel(ParseResult r, ModelConfig config) => Apply(r, config, 0, j => ModelConfig.FromJson(j, "--set"));

        T Apply<T>(ParseResult r, T config, int root, Func<string, T> fromJson)
        {
            System.Text.Json.Nodes.JsonNode? node = null;
            foreach (string spec in r.GetValue(Set) ?? Array.Empty<string>())
            {
                try
                {
                    var (path, value) = IO.JsonOverrides.Split(spec);
                    var (which, rest) = IO.JsonOverrides.Route(path, Roots, ModelConfig.Json);
                    if (which == 1 && !TakesTrain)
                        throw new UltraMemException(
                            $"{rest} is a training setting; `{r.CommandResult.Command.Name}` takes model settings only"
                        );
                    if (which == 0 && TakesTrain && rest == "vocab_size")
                        throw new UltraMemException(
                            "train takes vocab_size from the tokenizer; set tokenizer_vocab_size (or --vocab-size) instead"
                        );
                    if (which != root)
                        continue;
                    node ??= System.Text.Json.JsonSerializer.SerializeToNode(config, ModelConfig.Json)!;
                    IO.JsonOverrides.Set(node, typeof(T), rest, value, ModelConfig.Json, SlotPlacementJson.Members);
                }
                catch (UltraMemException e)
                {
                    throw new UltraMemException($"--set {spec}: {e.Message}", e);
                }
            }
            return node is null ? config : fromJson(node.ToJsonString(ModelConfig.Json));
        }
    }

    /// <summary>Model config from --config (JSON) or --preset [+ --arch], with --memory placements appended.</summary>
    public static ModelConfig ResolveModel(
        string? configPath,
        string preset,
        IEnumerable<string> memory,
        int vocabSize,
        string? arch = null
    )
    {
        ModelConfig config;
        if (configPath is not null)
        {
            if (arch is not null)
                throw new UltraMemException("--arch applies to a --preset; a --config file already describes the whole model");
            if (!File.Exists(configPath))
                throw new UltraMemException($"model config not found: {configPath}");
            config = ModelConfig.FromJson(File.ReadAllText(configPath), configPath);
        }
        else
        {
            config = ModelConfig.Preset(preset, vocabSize);
            if (arch is not null)
                config = Families.Matched(config, arch);
        }
        var extra = memory.Select(ParseMemory).ToList();
        if (extra.Count > 0)
            config = config with { MemoryLayers = config.MemoryLayers.Concat(extra).ToList() };
        return config.Validate();
    }

    static SlotPlacement ParseMemory(string spec)
    {
        int at = spec.IndexOf('@');
        if (at <= 0)
            throw new UltraMemException($"bad --memory '{spec}': expected KIND@PLACEMENT, e.g. swiglu@1:3");
        return SlotPlacement.Parse(spec[(at + 1)..], spec[..at]);
    }

    public static TrainConfig ReadTrainConfig(string? path)
    {
        if (path is null)
            return new TrainConfig();
        if (!File.Exists(path))
            throw new UltraMemException($"training config not found: {path}");
        return TrainConfig.FromJson(File.ReadAllText(path), path);
    }

    /// <summary>Ctrl-C once: stop after the current step and checkpoint. Twice: terminate.</summary>
    public static CancellationTokenSource InstallCtrlC()
    {
        var cts = new CancellationTokenSource();
        // Ctrl-C, and what schedulers, `timeout` and closed ssh sessions send: stop after the step, with a checkpoint;
        // a second one takes the default action (terminate, without saving)
        foreach (
            var (signal, message) in new[]
            {
                (PosixSignal.SIGINT, "Ctrl-C: finishing the current step and saving a checkpoint (press again to abort without saving)"),
                (PosixSignal.SIGTERM, "SIGTERM: finishing the current step and saving a checkpoint"),
                (PosixSignal.SIGHUP, "SIGHUP: finishing the current step and saving a checkpoint"),
            }
        )
            Signals.Add(
                PosixSignalRegistration.Create(
                    signal,
                    context =>
                    {
                        if (cts.IsCancellationRequested)
                            return;
                        context.Cancel = true;
                        cts.Cancel();
                        Console.Error.WriteLine("\n" + message);
                    }
                )
            );
        return cts;
    }

    /// <summary>The signal handlers installed by <see cref="InstallCtrlC"/>, kept alive for the life of the process.</summary>
    static readonly List<PosixSignalRegistration> Signals = new();

    public static void PrintTable(IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows, TextWriter? w = null)
    {
        w ??= Console.Out;
        var all = rows.ToList();
        var widths = headers.Select((h, i) => Math.Max(h.Length, all.Count == 0 ? 0 : all.Max(r => r[i].Length))).ToArray();
        string Line(IReadOnlyList<string> cells) =>
            string.Join("  ", cells.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i])));
        w.WriteLine(Line(headers));
        w.WriteLine(string.Join("  ", widths.Select(x => new string('-', x))));
        foreach (var r in all)
            w.WriteLine(Line(r));
    }
}
