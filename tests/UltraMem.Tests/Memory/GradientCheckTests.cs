using TorchSharp;
using UltraMem.Layers.Memory;
using static TorchSharp.torch;

namespace UltraMem.Tests.Memory;

/// <summary>Finite-difference gradient checks of the whole memory layer in double precision.</summary>
public class GradientCheckTests
{
    const int D = 10;

    public static IEnumerable<object[]> Configs() =>
        new[]
        {
            new object[]
            {
                "pkm",
                new MemoryConfig
                {
                    NKeys = 6,
                    Heads = 2,
                    TopM = 4,
                    KeyDim = 8,
                    Softmax = true,
                },
            },
            new object[]
            {
                "ultramem",
                new MemoryConfig
                {
                    NKeys = 5,
                    Heads = 4,
                    TopM = 4,
                    KeyDim = 8,
                    ValueDim = 6,
                    ValueProjection = true,
                    Softmax = false,
                    ShareQuery = true,
                    QkNorm = true,
                    Expansion = 4,
                    Retrieval = Retrieval.Tucker,
                    TuckerRank = 2,
                    TuckerCores = 2,
                    Init = InitScheme.Paper,
                    QueryConv = true,
                },
            },
            new object[]
            {
                "ultramemv2",
                new MemoryConfig
                {
                    NKeys = 5,
                    Heads = 1,
                    TopM = 4,
                    KeyDim = 8,
                    ValueDim = 6,
                    PreValueDim = 2,
                    ValueProjection = true,
                    Softmax = false,
                    QueryNorm = QueryNorm.None,
                    QkNorm = true,
                    Expansion = 4,
                    SingleProjector = true,
                    Retrieval = Retrieval.Tucker,
                    TuckerRank = 2,
                    TuckerCores = 2,
                    QueryPerRank = true,
                    Init = InitScheme.V2,
                },
            },
            new object[]
            {
                "ultramemv2+gelu",
                new MemoryConfig
                {
                    NKeys = 5,
                    Heads = 2,
                    TopM = 3,
                    KeyDim = 6,
                    ValueDim = 4,
                    PreValueDim = 3,
                    PreValueActivation = PreValueActivation.Gelu,
                    Softmax = false,
                    Retrieval = Retrieval.Tucker,
                    TuckerRank = 3,
                    QueryPerRank = true,
                    Init = InitScheme.V2,
                },
            },
            new object[]
            {
                "memory+",
                new MemoryConfig
                {
                    NKeys = 6,
                    Heads = 2,
                    TopM = 3,
                    KeyDim = 8,
                    ValueDim = 5,
                    ValueProjection = true,
                    OutputGate = true,
                    QkNorm = true,
                    QueryNorm = QueryNorm.None,
                },
            },
        };

    [Theory, MemberData(nameof(Configs))]
    public void AnalyticGradientsMatchCentralDifferences(string name, MemoryConfig config)
    {
        manual_seed(31);
        using var layer = new MemoryLayer(D, config);
        layer.to(ScalarType.Float64);
        layer.eval();
        layer.TrackUsage = false;
        var named = TestData.CheckGradientsByCentralDifferences(layer, new long[] { 2, 3, D }, name, seed: 5, absTol: 1e-5, relTol: 1e-4);
        foreach (var required in new[] { "query.query_proj.weight", "keys.row_keys", "keys.col_keys", "values.weight", "input" })
            Assert.Contains(required, named);
        if (config.IsTucker)
            Assert.Contains("tucker.tucker_cores", named);
        if (config.HasProjection(D))
            Assert.Contains("value_proj.weight", named);
        if (config.PreValueDim is not null)
            Assert.True(named.Contains("pre_values.weight") && named.Contains("pre_value_proj.weight"));
        if (config.OutputGate)
            Assert.Contains("gate_proj.weight", named);
    }

    [Fact]
    public void TuckerAuxiliaryLossMatchesItsFormulaAndCentralDifferences()
    {
        manual_seed(32);
        var config = new MemoryConfig
        {
            NKeys = 4,
            Heads = 2,
            TopM = 2,
            KeyDim = 4,
            Retrieval = Retrieval.Tucker,
            TuckerRank = 3,
            TuckerCores = 2,
            TuckerAuxLoss = true,
        };
        using var layer = new MemoryLayer(D, config);
        layer.to(ScalarType.Float64);
        layer.train();
        var cores = layer.tucker!.tucker_cores;
        var loss = layer.AuxiliaryLoss!;
        var sv = linalg.svdvals(cores.detach());
        double expected = 0;
        var s = sv.data<double>().ToArray();
        for (int k = 0; k < s.Length; k++)
            if (k % 3 != 0)
                expected += Math.Pow(Math.Max(0, s[k] - 0.15), 2);
        expected *= 0.001 / 2;
        Assert.Equal(expected, loss.item<double>(), 12);
        loss.backward();
        var g = cores.grad!.flatten();
        using var _ = no_grad();
        var flat = cores.view(-1);
        for (long i = 0; i < flat.shape[0]; i += 5)
        {
            double old = flat[i].item<double>();
            const double eps = 1e-6;
            flat[i] = old + eps;
            double up = layer.AuxiliaryLoss!.item<double>();
            flat[i] = old - eps;
            double down = layer.AuxiliaryLoss!.item<double>();
            flat[i] = old;
            Assert.True(Math.Abs((up - down) / (2 * eps) - g[i].item<double>()) < 1e-7, $"core coordinate {i}");
        }
        layer.eval();
        Assert.Null(layer.AuxiliaryLoss); // only in training
    }
}
