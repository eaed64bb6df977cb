namespace UltraMem.Data;

/// <summary>
/// Batches of (inputs, next-token targets) windows from a <see cref="TokenStream"/>, as flat row-major
/// <c>long</c> arrays of <c>rows × seqLen</c> (the caller shapes them into tensors).
/// </summary>
public static class BatchSampler
{
    /// <summary>
    /// A training batch of <paramref name="batchSize"/> windows at random offsets. The offsets are a pure
    /// function of (<paramref name="seed"/>, <paramref name="step"/>, <paramref name="microStep"/>, sizes,
    /// token count), so a run resumed at step k sees exactly the batches of an uninterrupted run.
    /// </summary>
    public static (long[] Inputs, long[] Targets) Sample(TokenStream s, int batchSize, int seqLen, ulong seed, long step, int microStep)
    {
        ArgumentNullException.ThrowIfNull(s);
        long[] starts = Starts(s.Count, batchSize, seqLen, seed, step, microStep);
        return Gather(s, starts, seqLen);
    }

    /// <summary>
    /// The window start offsets <see cref="Sample"/> uses: each uniform in [0, tokenCount − seqLen − 1], drawn
    /// from a <see cref="SplitMix64"/> keyed by (seed, step, microStep).
    /// </summary>
    public static long[] Starts(long tokenCount, int batchSize, int seqLen, ulong seed, long step, int microStep)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(seqLen);
        long positions = tokenCount - seqLen;
        if (positions < 1)
            throw new UltraMemException($"the token stream has {tokenCount:N0} tokens, too few for one window of {seqLen} + 1");
        ulong key = SplitMix64.Mix(SplitMix64.Mix(SplitMix64.Mix(seed) ^ (ulong)step) ^ ((ulong)(uint)microStep << 1 | 1));
        var rng = new SplitMix64(key);
        var starts = new long[batchSize];
        for (int b = 0; b < batchSize; b++)
            starts[b] = (long)rng.NextBelow((ulong)positions);
        return starts;
    }

    /// <summary>
    /// Every window of the stream in order, window w covering inputs [w·seqLen, (w+1)·seqLen) and targets one
    /// token later, grouped <paramref name="batchSize"/> at a time (the last batch may have fewer rows). The
    /// final <c>(Count − 1) mod seqLen</c> targets, too few for a full window, are left out.
    /// </summary>
    public static IEnumerable<(long[] Inputs, long[] Targets)> Sequential(TokenStream s, int batchSize, int seqLen)
    {
        ArgumentNullException.ThrowIfNull(s);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(seqLen);
        long windows = SequentialWindowCount(s.Count, seqLen);
        if (windows < 1)
            throw new UltraMemException($"the token stream has {s.Count:N0} tokens, too few for one window of {seqLen} + 1");
        return Enumerate(s, batchSize, seqLen, windows);
    }

    /// <summary>The number of windows <see cref="Sequential"/> yields in total: ⌊(tokenCount − 1) / seqLen⌋.</summary>
    public static long SequentialWindowCount(long tokenCount, int seqLen) => Math.Max(0, tokenCount - 1) / seqLen;

    static IEnumerable<(long[] Inputs, long[] Targets)> Enumerate(TokenStream s, int batchSize, int seqLen, long windows)
    {
        for (long first = 0; first < windows; first += batchSize)
        {
            int rows = (int)Math.Min(batchSize, windows - first);
            var starts = new long[rows];
            for (int r = 0; r < rows; r++)
                starts[r] = (first + r) * seqLen;
            yield return Gather(s, starts, seqLen);
        }
    }

    static (long[] Inputs, long[] Targets) Gather(TokenStream s, long[] starts, int seqLen)
    {
        var inputs = new long[starts.Length * seqLen];
        var targets = new long[starts.Length * seqLen];
        var window = new long[seqLen + 1];
        for (int r = 0; r < starts.Length; r++)
        {
            s.Read(starts[r], window);
            window.AsSpan(0, seqLen).CopyTo(inputs.AsSpan(r * seqLen, seqLen));
            window.AsSpan(1, seqLen).CopyTo(targets.AsSpan(r * seqLen, seqLen));
        }
        return (inputs, targets);
    }
}
