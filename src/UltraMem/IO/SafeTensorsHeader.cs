using static TorchSharp.torch;

namespace UltraMem.IO;

/// <summary>
/// The validated header of a safetensors file: tensor names, dtypes, shapes and offsets, and the
/// string metadata. Reading it touches only the first 8 + N bytes of the file.
/// </summary>
public sealed class SafeTensorsHeader
{
    const int MaxListed = 10;
    readonly Dictionary<string, SafeTensorInfo> _byName;

    internal SafeTensorsHeader(
        string path,
        List<SafeTensorInfo> tensors,
        Dictionary<string, string> metadata,
        long dataStart,
        long dataLength
    )
    {
        Path = path;
        Tensors = tensors;
        Metadata = metadata;
        DataStart = dataStart;
        DataLength = dataLength;
        _byName = new Dictionary<string, SafeTensorInfo>(tensors.Count, StringComparer.Ordinal);
        foreach (var t in tensors)
            _byName.Add(t.Name, t);
    }

    /// <summary>The file the header was read from.</summary>
    public string Path { get; }

    /// <summary>The tensors in file order (ascending offsets).</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    /// <summary>The <c>__metadata__</c> entries (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Absolute file offset of the data buffer (8 + header length).</summary>
    public long DataStart { get; }

    /// <summary>Length of the data buffer in bytes.</summary>
    public long DataLength { get; }

    /// <summary>Looks a tensor up by name.</summary>
    public bool TryGetTensor(string name, out SafeTensorInfo info) => _byName.TryGetValue(name, out info!);

    /// <summary>The entry named <paramref name="name"/>; throws <see cref="UltraMemException"/> when absent.</summary>
    public SafeTensorInfo this[string name] =>
        _byName.TryGetValue(name, out var info) ? info : throw new UltraMemException($"safetensors file '{Path}' has no tensor '{name}'");

    /// <summary>
    /// Compares the file with the tensors a model expects. Returns one line per problem
    /// (missing names, unexpected names, dtype or shape mismatches); empty when everything matches.
    /// </summary>
    public IReadOnlyList<string> FindMismatches(IReadOnlyDictionary<string, (ScalarType DType, long[] Shape)> expected)
    {
        ArgumentNullException.ThrowIfNull(expected);
        var problems = new List<string>();
        var missing = expected.Keys.Where(k => !_byName.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var unexpected = _byName.Keys.Where(k => !expected.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
            problems.Add($"missing {Count(missing.Count, "tensor")}: {ListNames(missing)}");
        if (unexpected.Count > 0)
            problems.Add($"unexpected {Count(unexpected.Count, "tensor")}: {ListNames(unexpected)}");
        foreach (var (name, spec) in expected.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!_byName.TryGetValue(name, out var info))
                continue;
            if (info.DType != spec.DType)
                problems.Add($"{name} has dtype {info.DTypeName} expected {SafeTensors.Describe(spec.DType)}");
            if (!info.ShapeArray.AsSpan().SequenceEqual(spec.Shape ?? []))
                problems.Add(
                    $"{name} has shape {SafeTensors.FormatShape(info.ShapeArray)} expected {SafeTensors.FormatShape(spec.Shape ?? [])}"
                );
        }
        return problems;
    }

    /// <summary>
    /// Throws <see cref="UltraMemException"/> listing every problem <see cref="FindMismatches"/> finds,
    /// e.g. "checkpoint 'm.safetensors' does not match config: layers.3.mlp.up_proj.weight has shape [4, 8] expected [8, 8]".
    /// </summary>
    public void EnsureMatches(IReadOnlyDictionary<string, (ScalarType DType, long[] Shape)> expected)
    {
        var problems = FindMismatches(expected);
        if (problems.Count == 0)
            return;
        const int maxProblems = 20;
        string text = string.Join("; ", problems.Take(maxProblems));
        if (problems.Count > maxProblems)
            text += $"; ... and {problems.Count - maxProblems} more";
        throw new UltraMemException($"checkpoint '{Path}' does not match config: {text}");
    }

    static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

    static string ListNames(List<string> names) =>
        names.Count <= MaxListed
            ? string.Join(", ", names)
            : string.Join(", ", names.Take(MaxListed)) + $", ... ({names.Count - MaxListed} more)";
}
