using static TorchSharp.torch;

namespace UltraMem.IO;

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
        foreach (var t in Tensors.Values)
            t.Dispose();
    }
}
