using UltraMem.Layers;
using static TorchSharp.torch;

namespace UltraMem.Tests.Model;

public class RotaryTests
{
    /// <summary>RoPE makes q·k depend only on the distance between positions: &lt;R(p)q, R(p+k)k&gt; is the same for every p.</summary>
    [Fact]
    public void DotProductsDependOnlyOnRelativePosition()
    {
        TorchSharp.torch.manual_seed(4);
        using var rope = new RotaryEmbedding(16, 64, 10000);
        var q = randn(1, 1, 1, 16);
        var k = randn(1, 1, 1, 16);
        float Dot(int pq, int pk) => (rope.Apply(q, pq) * rope.Apply(k, pk)).sum().item<float>();
        foreach (int offset in new[] { 0, 1, 5, 17 })
        {
            float reference = Dot(3, 3 + offset);
            foreach (int p in new[] { 0, 10, 40 })
                Assert.Equal(reference, Dot(p, p + offset), 3);
        }
        // and it is not position-independent: different offsets give different dot products
        Assert.NotEqual(Dot(0, 1), Dot(0, 9), 2);
        // rotation preserves norms
        Assert.Equal(q.norm().item<float>(), rope.Apply(q, 37).norm().item<float>(), 4);
    }
}
