using static TorchSharp.torch;

namespace UltraMem.Layers.Memory;

/// <summary>Result of a retrieval: per token and head the m selected virtual addresses and their scores (one per Tucker core).</summary>
/// <param name="Scores">[N, H, m, h] (h = 1 without MCS), best first.</param>
/// <param name="Addresses">[N, H, m] Int64 addresses i·n' + j in the virtual grid, distinct per token and head.</param>
public sealed record Selection(Tensor Scores, Tensor Addresses) : IDisposable
{
    public void Dispose()
    {
        Scores.Dispose();
        Addresses.Dispose();
    }
}
