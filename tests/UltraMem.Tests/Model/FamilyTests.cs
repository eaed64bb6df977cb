using UltraMem.Architectures;
using UltraMem.Model;

namespace UltraMem.Tests.Model;

/// <summary>The matched families: equal activated compute, equal totals, and accounting that agrees with the built models.</summary>
public class FamilyTests
{
    [Theory]
    [InlineData("tiny")]
    [InlineData("small")]
    public void EveryMemberMatchesTheFamilyTargets(string preset)
    {
        var b = ModelConfig.Preset(preset, 8192);
        var (flops, total) = Families.Targets(b);
        Assert.True(flops >= ModelAccounting.Total(b).FlopsPerToken);
        foreach (var arch in Families.Members)
        {
            var c = Families.Matched(b, arch);
            var s = ModelAccounting.Total(c);
            Assert.InRange(s.FlopsPerToken / (double)flops, 0.995, 1.005);
            if (arch == "dense")
            {
                Assert.Empty(c.MemoryLayers);
                continue;
            }
            // MoE moves in whole experts (≈ 1/N of the total each); the others in single keys
            Assert.InRange(s.Total / (double)total, arch == "moe" ? 0.975 : 0.995, arch == "moe" ? 1.025 : 1.005);
            Assert.Equal(c.ToJson(), ModelConfig.FromJson(c.ToJson()).ToJson()); // presets round-trip through JSON
        }
    }

    [Fact]
    public void FamilyMembersAreWhatTheirNamesSay()
    {
        var b = ModelConfig.Preset("tiny", 8192);
        Assert.All(Families.Matched(b, "moe").MemoryLayers, p => Assert.True(p.Kind == "moe" && p.ReplaceFfn && p.Moe!.TopK == 2));
        Assert.Equal(b.NLayers, Families.Matched(b, "moe").MemoryLayers.Count);
        var v2 = Families.Matched(b, "ultramemv2");
        Assert.Equal(Enumerable.Range(0, b.NLayers), v2.MemoryLayers.Select(p => p.ReadAt));
        Assert.All(
            v2.MemoryLayers,
            p =>
                Assert.True(
                    p.AddAfter == p.ReadAt
                        && !p.ReplaceFfn
                        && p.Memory!.PreValueDim > 0
                        && p.Memory.SingleProjector
                        && p.Memory.QueryPerRank
                )
        );
        var plus = Families.Matched(b, "memory_plus");
        Assert.All(plus.MemoryLayers, p => Assert.True(p.Memory!.SharedValues && p.Memory.OutputGate && p.Memory.ValueLr == 1e-3));
        Assert.Equal(plus.MemoryLayers[0].Memory!.Rows, plus.SharedValueRows);
        Assert.Single(Families.Matched(b, "peer").MemoryLayers);
        Assert.Throws<UltraMemException>(() => Families.Matched(b, "gpt5"));
    }

    /// <summary>The config-only accounting that the matching relies on equals the parameters of the built model.</summary>
    [Theory]
    [InlineData("moe")]
    [InlineData("pkm")]
    [InlineData("memory_plus")]
    [InlineData("peer")]
    [InlineData("ultramem")]
    [InlineData("ultramemv2")]
    [InlineData("ultramemv2+ring")]
    public void AccountingEqualsTheBuiltModel(string arch)
    {
        var c = Families.Matched(
            new ModelConfig
            {
                VocabSize = 300,
                DModel = 64,
                NLayers = 4,
                NHeads = 4,
                MaxSeqLen = 32,
            },
            arch
        );
        using var model = new TransformerLM(c);
        Assert.Equal(model.parameters().Sum(p => p.numel()), ModelAccounting.Total(c).Total);
    }

    [Fact]
    public void MatchSizesACandidateToAnyReference()
    {
        var reference = Families.Matched(ModelConfig.Preset("tiny", 8192), "ultramem") with { NLayers = 4 };
        var target = ModelAccounting.Total(reference);
        var moe = FamilyMatcher.Match(Families.Template(reference, "moe"), target.FlopsPerToken, target.Total);
        var s = ModelAccounting.Total(moe);
        Assert.InRange(s.FlopsPerToken / (double)target.FlopsPerToken, 0.995, 1.005);
        Assert.InRange(s.Total / (double)target.Total, 0.975, 1.025);
    }
}
