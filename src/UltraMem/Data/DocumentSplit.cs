namespace UltraMem.Data;

/// <summary>
/// Deterministic train/validation split at document level: each document's side is decided by a
/// stable hash of its id and the seed alone, so it does not depend on the order or the number of
/// the other documents, nor on the process, machine or .NET version.
/// </summary>
public static class DocumentSplit
{
    /// <summary>
    /// Splits <paramref name="docs"/> (keeping their order within each side). A document goes to
    /// validation when its hash, read as a number in [0, 1), is below <paramref name="validationFraction"/>.
    /// With two or more documents both sides are non-empty: if the hash sends none to validation, the
    /// document with the smallest hash goes there; if it sends all, the one with the largest stays in
    /// training. A single document always goes to training.
    /// </summary>
    public static (IReadOnlyList<Document> Train, IReadOnlyList<Document> Validation) Split(
        IReadOnlyList<Document> docs,
        double validationFraction = 0.05,
        ulong seed = 0
    )
    {
        ArgumentNullException.ThrowIfNull(docs);
        if (!(validationFraction > 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(
                nameof(validationFraction),
                validationFraction,
                "the validation fraction must be in (0, 1)"
            );

        var u = new double[docs.Count];
        var toValidation = new bool[docs.Count];
        int validationCount = 0;
        for (int i = 0; i < docs.Count; i++)
        {
            u[i] = Position(docs[i].Id, seed);
            toValidation[i] = u[i] < validationFraction;
            if (toValidation[i])
                validationCount++;
        }
        if (docs.Count >= 2 && validationCount == 0)
            toValidation[IndexOfExtreme(u, smallest: true)] = true;
        if (docs.Count >= 1 && validationCount == docs.Count)
            toValidation[IndexOfExtreme(u, smallest: false)] = false;

        var train = new List<Document>();
        var validation = new List<Document>();
        for (int i = 0; i < docs.Count; i++)
            (toValidation[i] ? validation : train).Add(docs[i]);
        return (train, validation);
    }

    /// <summary>The document's position in [0, 1): 53 bits of a stable hash of (id, seed).</summary>
    public static double Position(string id, ulong seed)
    {
        ulong h = SplitMix64.Mix(StableHash.Fnv1a64(id) ^ SplitMix64.Mix(seed + 0x9E3779B97F4A7C15));
        return (h >> 11) * (1.0 / (1UL << 53));
    }

    static int IndexOfExtreme(double[] u, bool smallest)
    {
        int best = 0;
        for (int i = 1; i < u.Length; i++)
            if (smallest ? u[i] < u[best] : u[i] > u[best])
                best = i;
        return best;
    }
}
