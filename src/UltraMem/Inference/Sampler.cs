namespace UltraMem.Inference;

/// <summary>Picks the next token from a logit vector: temperature, then top-k, then nucleus (top-p) filtering.</summary>
public sealed class Sampler
{
    readonly SamplingOptions _o;
    readonly Random _rng;

    public Sampler(SamplingOptions options)
    {
        _o = options.Validate();
        _rng = new Random(options.Seed);
    }

    public int Next(ReadOnlySpan<float> logits)
    {
        int n = logits.Length;
        if (_o.Temperature == 0)
            return ArgMax(logits);
        // candidates sorted by logit, descending (ties by index for determinism)
        var order = Enumerable.Range(0, n).ToArray();
        var copy = logits.ToArray();
        Array.Sort(order, (a, b) => copy[b] != copy[a] ? copy[b].CompareTo(copy[a]) : a.CompareTo(b));
        int keep = _o.TopK > 0 ? Math.Min(_o.TopK, n) : n;
        double max = copy[order[0]];
        var probs = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++)
        {
            probs[i] = Math.Exp((copy[order[i]] - max) / _o.Temperature);
            sum += probs[i];
        }
        // nucleus: smallest prefix whose probability mass reaches top-p
        double cum = 0;
        int cut = keep;
        for (int i = 0; i < keep; i++)
        {
            cum += probs[i] / sum;
            if (cum >= _o.TopP)
            {
                cut = i + 1;
                break;
            }
        }
        double mass = 0;
        for (int i = 0; i < cut; i++)
            mass += probs[i];
        double u = _rng.NextDouble() * mass;
        for (int i = 0; i < cut; i++)
        {
            u -= probs[i];
            if (u <= 0)
                return order[i];
        }
        return order[cut - 1];
    }

    static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++)
            if (x[i] > x[best])
                best = i;
        return best;
    }
}
