using System.Text.Json;
using TorchSharp;
using UltraMem.IO;
using UltraMem.Model;
using UltraMem.Tokenization;
using static TorchSharp.torch;

namespace UltraMem.Training;

/// <summary>
/// A self-contained checkpoint folder: <c>model.safetensors</c> (PyTorch-style dotted names),
/// <c>optimizer.safetensors</c> (AdamW moments), <c>model_config.json</c>, <c>train_config.json</c>,
/// <c>trainer_state.json</c>, and the tokenizer (<c>vocab.json</c>, <c>merges.txt</c>).
/// <para>
/// Writes are atomic at the folder level: everything goes into a hidden temporary folder, which is renamed
/// to <c>step-NNNNNNN</c> once complete; then the one-line pointer file <c>latest</c> is replaced atomically.
/// A run killed at any moment leaves the previous checkpoint (and the pointer to it) intact.
/// </para>
/// </summary>
public sealed class Checkpoint
{
    public const string ModelFile = "model.safetensors",
        OptimizerFile = "optimizer.safetensors";
    public const string ModelConfigFile = "model_config.json",
        TrainConfigFile = "train_config.json",
        StateFile = "trainer_state.json";
    public const string LatestPointer = "latest";

    public required string Directory { get; init; }
    public required ModelConfig ModelConfig { get; init; }
    public required TrainConfig TrainConfig { get; init; }
    public required TrainerState State { get; init; }

    /// <summary>Writes a checkpoint under <c>runDir/checkpoints</c> and prunes all but the newest <paramref name="keep"/>.</summary>
    public static string Save(
        string runDir,
        TransformerLM model,
        AdamW optimizer,
        TrainConfig train,
        TrainerState state,
        TextTokenizer tokenizer,
        int keep
    )
    {
        string root = Path.Combine(runDir, "checkpoints");
        System.IO.Directory.CreateDirectory(root);
        string name = $"step-{state.Step:D7}";
        string final = Path.Combine(root, name);
        string tmp = Path.Combine(root, $".{name}.tmp-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(tmp);
        try
        {
            var meta = new Dictionary<string, string>
            {
                ["format"] = "pt",
                ["producer"] = "UltraMem.NET",
                ["step"] = state.Step.ToString(),
            };
            SafeTensors.Save(
                Path.Combine(tmp, ModelFile),
                model.state_dict().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, OnCpu(kv.Value))),
                meta
            );
            SafeTensors.Save(
                Path.Combine(tmp, OptimizerFile),
                optimizer.StateTensors().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, OnCpu(kv.Value))),
                new Dictionary<string, string> { ["optimizer"] = "adamw", ["step_count"] = optimizer.StepCount.ToString() }
            );
            AtomicFile.WriteAllText(Path.Combine(tmp, ModelConfigFile), model.Config.ToJson());
            AtomicFile.WriteAllText(Path.Combine(tmp, TrainConfigFile), train.ToJson());
            AtomicFile.WriteAllText(Path.Combine(tmp, StateFile), JsonSerializer.Serialize(state, ModelConfig.Json));
            tokenizer.Save(tmp);
            if (System.IO.Directory.Exists(final) && IsComplete(final, withOptimizer: true))
                // re-saving a step (e.g. after resuming and interrupting at once): the complete folder of that step stays,
                // so `latest` never names a folder that is being replaced
                System.IO.Directory.Delete(tmp, recursive: true);
            else
            {
                if (System.IO.Directory.Exists(final)) // an incomplete folder of that step (not named by `latest`): replace it
                {
                    string old = Path.Combine(root, $".{name}.old-{Guid.NewGuid():N}");
                    System.IO.Directory.Move(final, old);
                    System.IO.Directory.Delete(old, recursive: true);
                }
                System.IO.Directory.Move(tmp, final);
            }
        }
        catch
        {
            if (System.IO.Directory.Exists(tmp))
                System.IO.Directory.Delete(tmp, recursive: true);
            throw;
        }
        AtomicFile.WriteAllText(Path.Combine(root, LatestPointer), name + "\n");
        var all = StepFolders(root).Select(f => f.Name).ToList(); // oldest first, by step number
        foreach (var stale in all.Where(n => n != name).Take(Math.Max(0, all.Count - keep)))
            System.IO.Directory.Delete(Path.Combine(root, stale), recursive: true);
        // temporary folders of saves that were killed before their rename (this process holds the run's lock)
        foreach (var leftover in System.IO.Directory.GetDirectories(root))
            if (Path.GetFileName(leftover).StartsWith(".step-", StringComparison.Ordinal) && leftover != tmp)
                System.IO.Directory.Delete(leftover, recursive: true);
        return final;
    }

    /// <summary>A tensor as the safetensors writer reads it: on the CPU (a copy when it lives on another device).</summary>
    static Tensor OnCpu(Tensor t) => t.device_type == DeviceType.CPU ? t : t.cpu();

    /// <summary>
    /// Resolves a run folder (follows <c>checkpoints/latest</c>) or a checkpoint folder, and reads its configs and state.
    /// </summary>
    public static Checkpoint Open(string path)
    {
        string dir = Resolve(path);
        string Read(string file)
        {
            string p = Path.Combine(dir, file);
            if (!File.Exists(p))
                throw new UltraMemException($"checkpoint {dir} is incomplete: {file} is missing");
            return File.ReadAllText(p);
        }
        var modelConfig = ModelConfig.FromJson(Read(ModelConfigFile), Path.Combine(dir, ModelConfigFile));
        var trainConfig = TrainConfig.FromJson(Read(TrainConfigFile), Path.Combine(dir, TrainConfigFile));
        TrainerState state;
        try
        {
            state = JsonSerializer.Deserialize<TrainerState>(Read(StateFile), ModelConfig.Json) ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new UltraMemException($"{Path.Combine(dir, StateFile)}: invalid trainer state ({e.Message})", e);
        }
        foreach (var f in RequiredFiles)
            if (!File.Exists(Path.Combine(dir, f)))
                throw new UltraMemException($"checkpoint {dir} is incomplete: {f} is missing");
        return new Checkpoint
        {
            Directory = dir,
            ModelConfig = modelConfig,
            TrainConfig = trainConfig,
            State = state,
        };
    }

    /// <summary>Whether <paramref name="path"/> (a run or checkpoint folder) has a complete checkpoint that <see cref="Open"/>
    /// would find: the folder itself, or a complete step folder (where <c>latest</c> names one, that one is complete).</summary>
    public static bool Exists(string path)
    {
        if (File.Exists(Path.Combine(path, ModelFile)))
            return true;
        string root = StepFolderRoot(path);
        return System.IO.Directory.Exists(root) && StepFolders(root).Any(f => IsComplete(Path.Combine(root, f.Name)));
    }

    /// <summary>Where the step folders of <paramref name="path"/> are: its <c>checkpoints</c> folder (a run folder), or itself.</summary>
    static string StepFolderRoot(string path) =>
        System.IO.Directory.Exists(Path.Combine(path, "checkpoints")) ? Path.Combine(path, "checkpoints") : path;

    static string Resolve(string path)
    {
        if (File.Exists(path) && Path.GetFileName(path) == ModelFile)
            path = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!System.IO.Directory.Exists(path))
            throw new UltraMemException($"checkpoint not found: {path}");
        if (File.Exists(Path.Combine(path, ModelFile)))
            return path;
        string root = StepFolderRoot(path);
        string pointer = Path.Combine(root, LatestPointer);
        string? problem = ReadPointer(pointer, root, out string? dir);
        if (problem is null)
            return dir!;
        // `latest` is missing, unreadable or names no complete checkpoint: fall back to the newest complete step folder
        var newest = StepFolders(root).Select(f => Path.Combine(root, f.Name)).LastOrDefault(d => IsComplete(d));
        if (newest is null)
            throw new UltraMemException(
                File.Exists(pointer)
                    ? $"{pointer}: {problem}, and no complete checkpoint is in {root}"
                    : $"no checkpoint in {path} (expected {ModelConfigFile} or checkpoints/{LatestPointer})"
            );
        Console.Error.WriteLine($"warning: {pointer}: {problem}; using {Path.GetFileName(newest)}, the newest complete checkpoint");
        return newest;
    }

    /// <summary>The folder <c>latest</c> names, or why it cannot be used (read only if it is a small regular file).</summary>
    static string? ReadPointer(string pointer, string root, out string? dir)
    {
        dir = null;
        var kind = Platform.FileKinds.Of(pointer);
        if (kind == Platform.FileKind.Missing)
            return "missing";
        if (kind != Platform.FileKind.Regular) // a link, FIFO or device: never opened (a FIFO would block, /dev/zero never end)
            return "not a regular file";
        var info = new FileInfo(pointer);
        if (info.Length > 256)
            return $"{info.Length} bytes, not a folder name";
        string name = File.ReadAllText(pointer).Trim();
        if (name.Length == 0 || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains(".."))
            return "corrupt pointer";
        dir = Path.Combine(root, name);
        if (!System.IO.Directory.Exists(dir))
            return $"points to {name}, which does not exist";
        return IsComplete(dir) ? null : $"points to {name}, which is incomplete";
    }

    /// <summary>
    /// Every file a checkpoint folder needs to be opened is there (and the optimizer state, to resume from it, with
    /// <paramref name="withOptimizer"/>; `compare` deletes it from finished runs).
    /// </summary>
    static bool IsComplete(string dir, bool withOptimizer = false) =>
        RequiredFiles.Concat(withOptimizer ? [OptimizerFile] : []).All(f => File.Exists(Path.Combine(dir, f)));

    /// <summary>The files <see cref="Open"/> needs (the optimizer state only matters for resuming).</summary>
    static readonly string[] RequiredFiles = { ModelConfigFile, TrainConfigFile, StateFile, ModelFile, "vocab.json", "merges.txt" };

    /// <summary>The <c>step-N</c> folders of <paramref name="root"/>, by step number (not by name: past 9,999,999 the names grow).</summary>
    static IEnumerable<(string Name, long Step)> StepFolders(string root) =>
        System
            .IO.Directory.GetDirectories(root, "step-*")
            .Select(Path.GetFileName)
            .OfType<string>()
            .Select(n => (Name: n, Step: long.TryParse(n["step-".Length..], out long k) ? k : -1))
            .Where(f => f.Step >= 0)
            .OrderBy(f => f.Step);

    /// <summary>
    /// The tokenizer files of this checkpoint, checked against the fingerprint the trainer recorded: another run's tokenizer
    /// copied in (even of the same size) would give wrong perplexities and text.
    /// </summary>
    public TextTokenizer LoadTokenizer()
    {
        var tokenizer = TextTokenizer.Load(Directory);
        if (State.TokenizerFingerprint.Length > 0 && tokenizer.Fingerprint != State.TokenizerFingerprint)
            throw new UltraMemException(
                $"the tokenizer in {Directory} (fingerprint {tokenizer.Fingerprint[..12]}) is not the one this checkpoint was "
                    + $"trained with ({State.TokenizerFingerprint[..Math.Min(12, State.TokenizerFingerprint.Length)]})"
            );
        return tokenizer;
    }

    /// <summary>Builds the model from the stored config and loads its weights (names, dtypes and shapes checked).</summary>
    public TransformerLM LoadModel()
    {
        var model = new TransformerLM(ModelConfig);
        try
        {
            LoadWeights(model, Path.Combine(Directory, ModelFile));
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }

    /// <summary>Copies weights from a safetensors file into <paramref name="model"/>; every state-dict entry must be present with its
    /// shape.</summary>
    public static void LoadWeights(TransformerLM model, string path)
    {
        var expected = model.state_dict().ToDictionary(kv => kv.Key, kv => (kv.Value.dtype, kv.Value.shape));
        using var file = SafeTensors.Load(path, expected); // names, dtypes and shapes checked before anything is allocated
        using var _ = no_grad();
        foreach (var (name, t) in model.state_dict())
            t.copy_(file.Tensors[name]);
    }

    public void LoadOptimizer(AdamW optimizer)
    {
        string path = Path.Combine(Directory, OptimizerFile);
        if (!File.Exists(path))
            throw new UltraMemException($"checkpoint {Directory} has no {OptimizerFile}; it cannot be resumed");
        // every moment must be that of a parameter, with its dtype and shape: checked on the header, before allocating
        var parameters = optimizer.Groups.SelectMany(g => g.Parameters).ToDictionary(p => p.Name, p => p.Param);
        foreach (var info in SafeTensors.ReadHeader(path).Tensors)
        {
            string name =
                info.Name.StartsWith("exp_avg_sq.", StringComparison.Ordinal) ? info.Name["exp_avg_sq.".Length..]
                : info.Name.StartsWith("exp_avg.", StringComparison.Ordinal) ? info.Name["exp_avg.".Length..]
                : "";
            if (!parameters.TryGetValue(name, out var p))
                throw new UltraMemException($"{path}: '{info.Name}' is not the moment of a parameter of this model");
            if (info.DType != p.dtype || !info.ShapeArray.SequenceEqual(p.shape))
                throw new UltraMemException(
                    $"{path}: '{info.Name}' is {info.DType} {SafeTensors.FormatShape(info.ShapeArray)}, "
                        + $"the parameter is {p.dtype} {SafeTensors.FormatShape(p.shape)}"
                );
        }
        using var file = SafeTensors.Load(path);
        if (!file.Metadata.TryGetValue("step_count", out var sc) || !long.TryParse(sc, out long stepCount))
            throw new UltraMemException($"{path}: missing step_count metadata");
        optimizer.LoadState(file.Tensors, stepCount, path);
    }
}
