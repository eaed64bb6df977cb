namespace UltraMem.Tokenization;

/// <summary>
/// A byte-level BPE vocabulary: token strings by id, written in the <see cref="ByteLevelAlphabet"/>
/// (plus the special <see cref="EndOfText"/> token), and the merge rules in rank order.
/// Instances are immutable and checked for consistency when built.
/// </summary>
public sealed class BpeModel
{
    /// <summary>The document separator; never produced by encoding text.</summary>
    public const string EndOfText = "<|endoftext|>";

    readonly string[] _tokens;
    readonly BpeMerge[] _merges;

    /// <summary>Token strings, index = id.</summary>
    public IReadOnlyList<string> Tokens => _tokens;

    /// <summary>Merge rules, index = rank (earlier merges apply first).</summary>
    public IReadOnlyList<BpeMerge> Merges => _merges;

    /// <summary>Id of <see cref="EndOfText"/>.</summary>
    public int EndOfTextId { get; }

    /// <summary>Builds a model; throws <see cref="UltraMemException"/> when it is inconsistent.</summary>
    public BpeModel(IEnumerable<string> tokens, IEnumerable<BpeMerge> merges)
    {
        _tokens = tokens.ToArray();
        _merges = merges.ToArray();
        string? problem = FindProblem(_tokens, _merges, out int endOfTextId);
        if (problem is not null)
            throw new UltraMemException($"Invalid BPE model: {problem}");
        EndOfTextId = endOfTextId;
    }

    /// <summary>
    /// Describes the first inconsistency (null when there is none): a duplicate token, a token outside
    /// the byte-level alphabet, a missing byte symbol or <see cref="EndOfText"/>, a merge whose parts or
    /// result are not tokens, or a repeated merge.
    /// </summary>
    internal static string? FindProblem(IReadOnlyList<string> tokens, IReadOnlyList<BpeMerge> merges, out int endOfTextId)
    {
        endOfTextId = -1;
        var ids = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        for (int id = 0; id < tokens.Count; id++)
        {
            string token = tokens[id];
            if (token.Length == 0)
                return $"token {id} is empty";
            if (!ids.TryAdd(token, id))
                return $"token '{token}' has two ids, {ids[token]} and {id}";
            if (token == EndOfText)
            {
                endOfTextId = id;
                continue;
            }
            foreach (char c in token)
            {
                if (!ByteLevelAlphabet.TryToByte(c, out _))
                    return $"token '{token}' (id {id}) contains U+{(int)c:X4}, which is not in the byte-level alphabet";
            }
        }
        if (endOfTextId < 0)
            return $"there is no '{EndOfText}' token";
        for (int b = 0; b < 256; b++)
        {
            string symbol = ByteLevelAlphabet.ToChar((byte)b).ToString();
            if (!ids.ContainsKey(symbol))
                return $"the byte symbol '{symbol}' (byte 0x{b:X2}) is missing";
        }
        var seen = new Dictionary<BpeMerge, int>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            BpeMerge merge = merges[rank];
            string? problem = MergeProblem(merge, ids);
            if (problem is not null)
                return $"merge {rank + 1} '{merge}': {problem}";
            if (!seen.TryAdd(merge, rank))
                return $"merge {rank + 1} '{merge}' repeats merge {seen[merge] + 1}";
        }
        return null;
    }

    static string? MergeProblem(BpeMerge merge, Dictionary<string, int> ids)
    {
        if (merge.Left.Length == 0 || merge.Right.Length == 0 || merge.Left.Contains(' ') || merge.Right.Contains(' '))
            return "each side must be a non-empty token without spaces";
        if (merge.Left == EndOfText || merge.Right == EndOfText)
            return $"'{EndOfText}' cannot be merged";
        if (!ids.ContainsKey(merge.Left))
            return $"token '{merge.Left}' is not in the vocabulary";
        if (!ids.ContainsKey(merge.Right))
            return $"token '{merge.Right}' is not in the vocabulary";
        if (!ids.ContainsKey(merge.Result))
            return $"the merged token '{merge.Result}' is not in the vocabulary";
        return null;
    }
}
