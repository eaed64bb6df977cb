using static TorchSharp.torch;

namespace UltraMem.Layers;

/// <summary>The distinct entries of an index tensor of the last forward pass, kept outside the module tree (not a buffer) and counted on
/// demand.</summary>
public sealed class LastIndices : IDisposable
{
    Tensor? _indices;

    public void Set(Tensor indices)
    {
        _indices?.Dispose();
        _indices = indices.detach().DetachFromDisposeScope();
    }

    /// <summary>Distinct values among the kept indices; 0 before the first forward pass.</summary>
    public long Distinct()
    {
        if (_indices is null)
            return 0;
        using var scope = NewDisposeScope();
        var (u, _, _) = unique(_indices.flatten(), sorted: false);
        return u.shape[0];
    }

    public void Dispose()
    {
        _indices?.Dispose();
        _indices = null;
    }
}
