using static TorchSharp.torch;

namespace UltraMem.IO;

/// <summary>One tensor entry of a safetensors header (validated against the file).</summary>
public sealed class SafeTensorInfo
{
    readonly long[] _shape;

    internal SafeTensorInfo(string name, ScalarType dtype, long[] shape, long elementCount, long begin, long end)
    {
        Name = name;
        DType = dtype;
        _shape = shape;
        ElementCount = elementCount;
        Begin = begin;
        End = end;
    }

    /// <summary>The tensor's name (the JSON key).</summary>
    public string Name { get; }

    /// <summary>The element type as a TorchSharp scalar type.</summary>
    public ScalarType DType { get; }

    /// <summary>The element type as written in the file (<c>F32</c>, <c>BF16</c>, ...).</summary>
    public string DTypeName => SafeTensors.DTypeName(DType);

    /// <summary>The shape; empty for a scalar.</summary>
    public IReadOnlyList<long> Shape => _shape;

    /// <summary>The product of <see cref="Shape"/> (1 for a scalar).</summary>
    public long ElementCount { get; }

    /// <summary>Start of the tensor's bytes, relative to the start of the data buffer.</summary>
    public long Begin { get; }

    /// <summary>End (exclusive) of the tensor's bytes, relative to the start of the data buffer.</summary>
    public long End { get; }

    /// <summary><see cref="End"/> − <see cref="Begin"/>.</summary>
    public long ByteLength => End - Begin;

    internal long[] ShapeArray => _shape;

    public override string ToString() => $"{Name}: {DTypeName} {SafeTensors.FormatShape(_shape)}";
}

/// <summary>
/// The validated header of a safetensors file: tensor names, dtypes, shapes and offsets, and the
/// string metadata. Reading it touches only the first 8 + N bytes of the file.
/// </summary>
public sealed class SafeTensorsHeader
{
    const int MaxListed = 10;
    readonly Dictionary<string, SafeTensorInfo> _byName;

    internal SafeTensorsHeader(string path, List<SafeTensorInfo> tensors, Dictionary<string, string> metadata, long dataStart, long dataLength)
    {
        Path = path;
        Tensors = tensors;
        Metadata = metadata;
        DataStart = dataStart;
        DataLength = dataLength;
        _byName = new Dictionary<string, SafeTensorInfo>(tensors.Count, StringComparer.Ordinal);
        foreach (var t in tensors) _byName.Add(t.Name, t);
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
        if (missing.Count > 0) problems.Add($"missing {Count(missing.Count, "tensor")}: {ListNames(missing)}");
        if (unexpected.Count > 0) problems.Add($"unexpected {Count(unexpected.Count, "tensor")}: {ListNames(unexpected)}");
        foreach (var (name, spec) in expected.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!_byName.TryGetValue(name, out var info)) continue;
            if (info.DType != spec.DType)
                problems.Add($"{name} has dtype {info.DTypeName} expected {SafeTensors.Describe(spec.DType)}");
            if (!info.ShapeArray.AsSpan().SequenceEqual(spec.Shape ?? []))
                problems.Add($"{name} has shape {SafeTensors.FormatShape(info.ShapeArray)} expected {SafeTensors.FormatShape(spec.Shape ?? [])}");
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
        if (problems.Count == 0) return;
        const int maxProblems = 20;
        string text = string.Join("; ", problems.Take(maxProblems));
        if (problems.Count > maxProblems) text += $"; ... and {problems.Count - maxProblems} more";
        throw new UltraMemException($"checkpoint '{Path}' does not match config: {text}");
    }

    static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

    static string ListNames(List<string> names) =>
        names.Count <= MaxListed
            ? string.Join(", ", names)
            : string.Join(", ", names.Take(MaxListed)) + $", ... ({names.Count - MaxListed} more)";
}

/// <summary>Tensors loaded from a safetensors file. Disposing it disposes every loaded tensor.</summary>
public sealed class SafeTensorsFile : IDisposable
{
    internal SafeTensorsFile(SafeTensorsHeader header, Dictionary<string, Tensor> tensors)
    {
        Header = header;
        Tensors = tensors;
    }

    /// <summary>The validated header the tensors were read with.</summary>
    public SafeTensorsHeader Header { get; }

    /// <summary>The tensors by name, each on the CPU with the file's dtype and shape.</summary>
    public IReadOnlyDictionary<string, Tensor> Tensors { get; }

    /// <summary>The file's <c>__metadata__</c> entries.</summary>
    public IReadOnlyDictionary<string, string> Metadata => Header.Metadata;

    /// <summary>Disposes every loaded tensor.</summary>
    public void Dispose()
    {
        foreach (var t in Tensors.Values) t.Dispose();
    }
}
