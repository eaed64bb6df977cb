using System.Runtime.InteropServices;
using System.Text;

namespace UltraMem.Tokenization;

/// <summary>
/// The core of BPE training over a table of distinct words (pre-token pieces) with frequencies.
/// Keeps, for every adjacent symbol pair, its frequency-weighted count and the set of words that may
/// contain it; a merge rewrites only those words and updates counts from the neighbours of each
/// rewritten spot. The next pair comes from a priority queue with lazy invalidation: every pair has
/// an entry whose count is at least its true count, and a popped entry whose count is stale is
/// re-queued with the true one. Order: highest count, then smallest (left id, right id).
/// </summary>
internal sealed class PairMergeLoop
{
    readonly int[][] _words;
    readonly int[] _lengths;
    readonly long[] _frequencies;
    readonly Dictionary<long, long> _pairCounts = new();
    readonly Dictionary<long, HashSet<int>> _pairWords = new();
    readonly PriorityQueue<long, (long Count, long Pair)> _queue = new(PriorityOrder.Instance);
    readonly HashSet<long> _raised = new();
    readonly List<string> _tokens = new();
    readonly HashSet<string> _known = new(StringComparer.Ordinal);
    readonly List<BpeMerge> _merges = new();

    /// <summary>Token strings so far (256 byte symbols first, id = byte value), index = id.</summary>
    public IReadOnlyList<string> Tokens => _tokens;

    /// <summary>Merges so far, in rank order.</summary>
    public IReadOnlyList<BpeMerge> Merges => _merges;

    /// <param name="words">Distinct words.</param>
    /// <param name="frequencies">Occurrences of each word.</param>
    /// <param name="reserved">Token strings that merges must never produce (special tokens).</param>
    public PairMergeLoop(IReadOnlyList<string> words, IReadOnlyList<long> frequencies, IEnumerable<string> reserved)
    {
        for (int b = 0; b < 256; b++)
            _tokens.Add(ByteLevelAlphabet.ToChar((byte)b).ToString());
        _known.UnionWith(_tokens);
        _known.UnionWith(reserved);

        _words = new int[words.Count][];
        _lengths = new int[words.Count];
        _frequencies = new long[words.Count];
        for (int w = 0; w < words.Count; w++)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(words[w]);
            var symbols = new int[bytes.Length];
            for (int i = 0; i < bytes.Length; i++)
                symbols[i] = bytes[i];
            _words[w] = symbols;
            _lengths[w] = symbols.Length;
            _frequencies[w] = frequencies[w];
            for (int i = 0; i + 1 < symbols.Length; i++)
                AddToPair(Key(symbols[i], symbols[i + 1]), frequencies[w], w);
        }
        foreach (var (pair, count) in _pairCounts)
            _queue.Enqueue(pair, (count, pair));
        _raised.Clear();
    }

    /// <summary>
    /// Performs the best merge if its count is at least <paramref name="minFrequency"/>; returns false
    /// when no pair qualifies. A pair whose merged string is already a token is dropped instead.
    /// </summary>
    public bool TryMergeNext(long minFrequency)
    {
        while (_queue.TryDequeue(out long pair, out var queued))
        {
            long count = _pairCounts.GetValueOrDefault(pair);
            if (count != queued.Count)
            {
                if (count > 0)
                    _queue.Enqueue(pair, (count, pair));
                continue;
            }
            if (count < minFrequency)
                return false;

            int left = (int)(pair >> 32),
                right = (int)(pair & 0xFFFF_FFFF);
            _pairCounts.Remove(pair);
            _pairWords.Remove(pair, out HashSet<int>? words);
            string merged = _tokens[left] + _tokens[right];
            if (!_known.Add(merged))
                continue;

            int id = _tokens.Count;
            _tokens.Add(merged);
            _merges.Add(new BpeMerge(_tokens[left], _tokens[right]));
            if (words is not null)
            {
                foreach (int w in words)
                    MergeInWord(w, left, right, id, pair);
            }
            foreach (long raised in _raised)
            {
                if (_pairCounts.TryGetValue(raised, out long now))
                    _queue.Enqueue(raised, (now, raised));
            }
            _raised.Clear();
            return true;
        }
        return false;
    }

    /// <summary>The current symbols (token ids) of word <paramref name="w"/>.</summary>
    public int[] Segmentation(int w) => _words[w].AsSpan(0, _lengths[w]).ToArray();

    /// <summary>Replaces non-overlapping (left, right) occurrences, left to right, by <paramref name="merged"/>.</summary>
    void MergeInWord(int w, int left, int right, int merged, long pair)
    {
        int[] symbols = _words[w];
        int length = _lengths[w];
        long f = _frequencies[w];
        int write = 0,
            read = 0;
        while (read < length)
        {
            if (read + 1 < length && symbols[read] == left && symbols[read + 1] == right)
            {
                if (write > 0)
                {
                    int before = symbols[write - 1];
                    AddToPair(Key(before, left), -f, w, pair);
                    AddToPair(Key(before, merged), f, w, pair);
                }
                if (read + 2 < length)
                {
                    int after = symbols[read + 2];
                    AddToPair(Key(right, after), -f, w, pair);
                    AddToPair(Key(merged, after), f, w, pair);
                }
                symbols[write++] = merged;
                read += 2;
            }
            else
            {
                symbols[write++] = symbols[read++];
            }
        }
        _lengths[w] = write;
    }

    void AddToPair(long key, long delta, int w, long skip = -1)
    {
        if (key == skip)
            return;
        ref long count = ref CollectionsMarshal.GetValueRefOrAddDefault(_pairCounts, key, out _);
        count += delta;
        if (delta > 0)
        {
            ref HashSet<int>? set = ref CollectionsMarshal.GetValueRefOrAddDefault(_pairWords, key, out _);
            (set ??= new HashSet<int>()).Add(w);
            _raised.Add(key);
        }
        else if (count == 0)
        {
            _pairCounts.Remove(key);
        }
    }

    static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    sealed class PriorityOrder : IComparer<(long Count, long Pair)>
    {
        public static readonly PriorityOrder Instance = new();

        public int Compare((long Count, long Pair) x, (long Count, long Pair) y)
        {
            int byCount = y.Count.CompareTo(x.Count);
            return byCount != 0 ? byCount : x.Pair.CompareTo(y.Pair);
        }
    }
}
