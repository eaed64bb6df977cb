namespace UltraMem.Reporting;

/// <summary>Summary statistics of benchmark samples (seeds, repeated timings).</summary>
public static class Stats
{
    /// <summary>The middle value (the mean of the two middle ones for an even count); NaN when empty.</summary>
    public static double Median(IReadOnlyCollection<double> xs)
    {
        if (xs.Count == 0)
            return double.NaN;
        var s = xs.OrderBy(v => v).ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    public static double Mean(IReadOnlyCollection<double> xs) => xs.Count == 0 ? double.NaN : xs.Sum() / xs.Count;

    /// <summary>Sample standard deviation (n − 1 in the denominator); NaN for fewer than two values.</summary>
    public static double SampleStd(IReadOnlyCollection<double> xs)
    {
        if (xs.Count < 2)
            return double.NaN;
        double m = Mean(xs);
        return Math.Sqrt(xs.Sum(x => (x - m) * (x - m)) / (xs.Count - 1));
    }

    /// <summary>
    /// Training tokens/s of a run from its metrics: tokens per step divided by the mean duration of the steps that do not follow an
    /// evaluation or a checkpoint (their <c>elapsed_s</c> difference includes that work) — step 1 (warm-up) excluded too, and so are
    /// steps over 3× the median step (the first step of a resumed session).
    /// </summary>
    public static double TrainingTokensPerSecond(IReadOnlyList<MetricRecord> metrics, long tokensPerStep, long checkpointInterval)
    {
        var elapsed = new Dictionary<long, double>();
        foreach (var r in metrics)
            if (r.Split == "train" && r.Values.TryGetValue("elapsed_s", out var e))
                elapsed[r.Step] = e;
        var evalSteps = metrics.Where(r => r.Split == "val").Select(r => r.Step).ToHashSet();
        var durations = new List<double>();
        foreach (var (step, t) in elapsed)
        {
            long prev = step - 1;
            if (prev < 1 || !elapsed.TryGetValue(prev, out var tp))
                continue;
            if (evalSteps.Contains(prev) || (checkpointInterval > 0 && prev % checkpointInterval == 0))
                continue;
            if (t > tp)
                durations.Add(t - tp);
        }
        if (durations.Count == 0)
            return double.NaN;
        // a resumed session's first step also carries the interrupted checkpoint and warm-up: drop steps over 3× the median
        var sorted = durations.OrderBy(d => d).ToList();
        double median = sorted[sorted.Count / 2];
        var kept = durations.Where(d => d <= 3 * median).ToList();
        return tokensPerStep / kept.Average();
    }
}
