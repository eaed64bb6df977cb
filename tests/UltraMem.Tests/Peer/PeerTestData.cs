using UltraMem.IO;
using UltraMem.Layers.Memory;
using UltraMem.Layers.Peer;
using static TorchSharp.torch;

namespace UltraMem.Tests.Peer;

/// <summary>Small PEER configurations and scalar reference functions for the PEER tests.</summary>
static class PeerTestData
{
    public static PeerConfig Small(
        string gate = "softmax",
        string activation = "gelu",
        string queryNorm = "layernorm",
        bool qkNorm = false
    ) =>
        new()
        {
            NKeys = 6,
            Heads = 3,
            TopK = 4,
            KeyDim = 8,
            Gate = JsonEnum.Parse<PeerGate>(gate),
            Activation = JsonEnum.Parse<PeerActivation>(activation),
            QueryNorm = JsonEnum.Parse<QueryNorm>(queryNorm),
            QkNorm = qkNorm,
        };

    /// <summary>max |a − b| of two tensors of any float type, in double.</summary>
    public static double MaxAbsDiff(Tensor a, Tensor b) => (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max().item<double>();

    /// <summary>σ of the expert neuron, computed independently of TorchSharp (GELU exact: x·Φ(x)).</summary>
    public static double Activation(string name, double a) =>
        name switch
        {
            "gelu" => a * 0.5 * (1 + Erf(a / Math.Sqrt(2))),
            "relu" => Math.Max(0, a),
            "silu" => a / (1 + Math.Exp(-a)),
            "none" => a,
            _ => throw new ArgumentException(name),
        };

    /// <summary>Gate weights of one head's top-k scores.</summary>
    public static double[] Gates(string gate, double[] s)
    {
        switch (gate)
        {
            case "softmax":
                double max = s.Max();
                var e = s.Select(v => Math.Exp(v - max)).ToArray();
                return e.Select(v => v / e.Sum()).ToArray();
            case "relu":
                return s.Select(v => Math.Max(0, v)).ToArray();
            case "sigmoid":
                return s.Select(v => 1 / (1 + Math.Exp(-v))).ToArray();
            case "none":
                return s.ToArray();
            default:
                throw new ArgumentException(gate);
        }
    }

    /// <summary>erf to ~1e-14: Maclaurin series for |x| &lt; 3, the continued fraction of erfc beyond.</summary>
    public static double Erf(double x)
    {
        double z = Math.Abs(x);
        if (z < 3)
        {
            double sum = 0,
                term = z; // term_n = (−1)^n z^(2n+1) / n!
            for (int n = 0; n < 100; n++)
            {
                double t = term / (2 * n + 1);
                sum += t;
                if (Math.Abs(t) < 1e-17)
                    break;
                term *= -z * z / (n + 1);
            }
            return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc(z) = exp(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …)))), evaluated bottom-up
        double f = z;
        for (int k = 200; k >= 1; k--)
            f = z + k / 2.0 / f;
        double erfc = Math.Exp(-z * z) / Math.Sqrt(Math.PI) / f;
        return Math.Sign(x) * (1 - erfc);
    }
}
