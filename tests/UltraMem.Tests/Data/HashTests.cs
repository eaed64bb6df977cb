using UltraMem.Data;

namespace UltraMem.Tests.Data;

public class HashTests
{
    [Theory]
    [InlineData("", 0xCBF29CE484222325UL)]
    [InlineData("a", 0xAF63DC4C8601EC8CUL)]
    [InlineData("foobar", 0x85944171F73967E8UL)]
    public void Fnv1a64MatchesThePublishedVectors(string text, ulong expected) => Assert.Equal(expected, StableHash.Fnv1a64(text));

    [Fact]
    public void SplitMix64MatchesTheReferenceImplementation()
    {
        var zero = new SplitMix64(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, zero.Next());
        Assert.Equal(0x6E789E6AA1B965F4UL, zero.Next());
        Assert.Equal(0x06C45D188009454FUL, zero.Next());
        var other = new SplitMix64(1234567);
        Assert.Equal(6457827717110365317UL, other.Next());
        Assert.Equal(3203168211198807973UL, other.Next());
        Assert.Equal(9817491932198370423UL, other.Next());
    }

    [Fact]
    public void NextBelowIsInRangeAndRoughlyUniform()
    {
        var rng = new SplitMix64(42);
        var counts = new int[10];
        for (int i = 0; i < 100_000; i++)
            counts[rng.NextBelow(10)]++;
        // Chi-square with 9 degrees of freedom: 27.9 is the 0.999 quantile.
        double chi2 = counts.Sum(c => (c - 10_000.0) * (c - 10_000.0) / 10_000.0);
        Assert.True(chi2 < 27.9, $"chi2 = {chi2}");
        Assert.Equal(0UL, new SplitMix64(7).NextBelow(1));
    }
}
