using UltraMem.Data;

namespace UltraMem.Tests.Data;

public class BatchSamplerTests : IDisposable
{
    readonly TempFolder _tmp = new();

    /// <summary>A token stream whose contents are known: <paramref name="count"/> pseudo-random tokens below 1000.</summary>
    (TokenStream Stream, long[] Tokens) Stream(int count)
    {
        var rng = new SplitMix64((ulong)count);
        var tokens = Enumerable.Range(0, count - 1).Select(_ => (int)rng.NextBelow(999)).ToArray();
        string path = _tmp.File($"s{count}.bin");
        TokenCache.Build(path, [new Document("only", "x")], _ => tokens, 999, 1000, "fixed", null);
        var s = TokenStream.Open(path, "fixed");
        return (s, tokens.Select(t => (long)t).Append(999).ToArray());
    }

    [Fact]
    public void BatchesAreWindowsOfTheStreamWithTargetsShiftedByOne()
    {
        var (s, tokens) = Stream(5000);
        using var _ = s;
        const int B = 6,
            T = 32;
        var (x, y) = BatchSampler.Sample(s, B, T, seed: 11, step: 5, microStep: 1);
        long[] starts = BatchSampler.Starts(s.Count, B, T, 11, 5, 1);
        Assert.Equal(B * T, x.Length);
        Assert.Equal(B * T, y.Length);
        for (int r = 0; r < B; r++)
        for (int t = 0; t < T; t++)
        {
            Assert.Equal(tokens[starts[r] + t], x[r * T + t]);
            Assert.Equal(tokens[starts[r] + t + 1], y[r * T + t]);
        }
    }

    [Fact]
    public void BatchesArePureFunctionsOfSeedStepAndMicroStep()
    {
        var (s, _) = Stream(3000);
        using var _ = s;
        // An uninterrupted run: steps 0..9, two micro-steps each.
        var run = new Dictionary<(long, int), long[]>();
        for (long step = 0; step < 10; step++)
        for (int micro = 0; micro < 2; micro++)
            run[(step, micro)] = BatchSampler.Sample(s, 4, 16, 7, step, micro).Inputs;
        // A resumed run starting at step 6 sees the same batches.
        for (long step = 6; step < 10; step++)
        for (int micro = 0; micro < 2; micro++)
            Assert.Equal(run[(step, micro)], BatchSampler.Sample(s, 4, 16, 7, step, micro).Inputs);
        Assert.Equal(run.Count, run.Values.Select(v => string.Join(',', v)).Distinct().Count());
        Assert.NotEqual(run[(3, 0)], BatchSampler.Sample(s, 4, 16, 8, 3, 0).Inputs);
    }

    [Fact]
    public void StartsCoverEveryValidOffsetAndNoOther()
    {
        const long count = 100;
        const int T = 10;
        var seen = new HashSet<long>();
        for (long step = 0; step < 2000; step++)
            foreach (long start in BatchSampler.Starts(count, 8, T, 1, step, 0))
            {
                Assert.InRange(start, 0, count - T - 1);
                seen.Add(start);
            }
        Assert.Equal(count - T, seen.Count); // 0 … 89: the last window's target is the last token
    }

    [Fact]
    public void SequentialCoversTheStreamInOrderWithoutOverlap()
    {
        var (s, tokens) = Stream(1000);
        using var _ = s;
        const int B = 4,
            T = 37;
        var batches = BatchSampler.Sequential(s, B, T).ToList();
        long windows = (s.Count - 1) / T; // 27
        Assert.Equal(windows, BatchSampler.SequentialWindowCount(s.Count, T));
        Assert.Equal((windows + B - 1) / B, batches.Count);
        Assert.All(batches.SkipLast(1), b => Assert.Equal(B * T, b.Inputs.Length));
        Assert.Equal((windows - 1) % B + 1, batches[^1].Inputs.Length / T);
        long[] inputs = batches.SelectMany(b => b.Inputs).ToArray();
        long[] targets = batches.SelectMany(b => b.Targets).ToArray();
        Assert.Equal(tokens[..(int)(windows * T)], inputs);
        Assert.Equal(tokens[1..(int)(windows * T + 1)], targets);
        Assert.True(s.Count - 1 - windows * T < T); // what is left out is less than one window
    }

    [Fact]
    public void StreamsTooShortForOneWindowAreAClearError()
    {
        var (s, _) = Stream(10);
        using var _ = s;
        Assert.Throws<UltraMemException>(() => BatchSampler.Sample(s, 2, 10, 0, 0, 0));
        Assert.Throws<UltraMemException>(() => BatchSampler.Sequential(s, 2, 10));
        Assert.Single(BatchSampler.Sequential(s, 2, 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => BatchSampler.Starts(100, 0, 10, 0, 0, 0));
    }

    public void Dispose() => _tmp.Dispose();
}
