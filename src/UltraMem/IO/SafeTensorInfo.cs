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
