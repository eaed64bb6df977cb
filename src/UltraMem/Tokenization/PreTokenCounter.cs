using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace UltraMem.Tokenization;

/// <summary>
/// Counts the distinct pieces (<see cref="Gpt2PreTokenizer"/> matches) of a corpus. Documents are
/// split in parallel into per-thread tables that are summed at the end, so the result does not
/// depend on scheduling. Pieces never span two documents.
/// </summary>
internal static class PreTokenCounter
{
    /// <summary>Piece → number of occurrences over all documents.</summary>
    public static Dictionary<string, long> Count(IEnumerable<string> documents)
    {
        ArgumentNullException.ThrowIfNull(documents);
        var partials = new ConcurrentBag<Dictionary<string, long>>();
        bool sawNull = false;
        Parallel.ForEach(
            documents,
            () => new Dictionary<string, long>(StringComparer.Ordinal),
            (document, state, local) =>
            {
                if (document is null)
                {
                    sawNull = true;
                    state.Stop();
                    return local;
                }
                CountInto(document, local);
                return local;
            },
            partials.Add
        );
        if (sawNull)
            throw new ArgumentException("A document is null.", nameof(documents));

        var tables = partials.OrderByDescending(t => t.Count).ToList();
        if (tables.Count == 0)
            return new Dictionary<string, long>(StringComparer.Ordinal);
        Dictionary<string, long> total = tables[0];
        for (int i = 1; i < tables.Count; i++)
        {
            foreach (var (piece, count) in tables[i])
                CollectionsMarshal.GetValueRefOrAddDefault(total, piece, out _) += count;
        }
        return total;
    }

    /// <summary>Adds the pieces of one document to <paramref name="counts"/>.</summary>
    public static void CountInto(string document, Dictionary<string, long> counts)
    {
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        ReadOnlySpan<char> text = document;
        foreach (ValueMatch match in Gpt2PreTokenizer.Regex.EnumerateMatches(text))
        {
            CollectionsMarshal.GetValueRefOrAddDefault(lookup, text.Slice(match.Index, match.Length), out _)++;
        }
    }
}
