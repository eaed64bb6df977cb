using System.Text;
using UltraMem.Data;

namespace UltraMem.Tests.Data;

public class TokenCacheTests
{
    /// <summary>Stand-in tokenizer: the UTF-8 bytes; 256 is end-of-text.</summary>
    static int[] Bytes(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();

    const int Eot = 256,
        ByteVocab = 257;

    static List<Document> Docs(int n) =>
        Enumerable
            .Range(0, n)
            .Select(i => new Document($"d{i}", $"Document {i}: " + new string((char)('a' + i % 26), i % 97) + " — é"))
            .ToList();

    static long[] Expected(IEnumerable<Document> docs, Func<string, int[]> encode, int eot) =>
        docs.SelectMany(d => encode(d.Text).Append(eot)).Select(t => (long)t).ToArray();

    static long[] ReadAll(TokenStream s)
    {
        var all = new long[s.Count];
        s.Read(0, all);
        return all;
    }

    [Fact]
    public void Uint16RoundTripEqualsTheEncodedDocumentsWithSeparators()
    {
        using var tmp = new TempFolder();
        var docs = Docs(700); // more than one encoding chunk
        string path = tmp.File("sub/train.bin");
        // The encoder sleeps unevenly so parallel encodes finish out of order; the file must not.
        var meta = TokenCache.Build(
            path,
            docs,
            t =>
            {
                Thread.SpinWait(t.Length % 7 * 1000);
                return Bytes(t);
            },
            Eot,
            ByteVocab,
            "bytes-v1",
            null
        );
        long[] expected = Expected(docs, Bytes, Eot);

        using var s = TokenStream.Open(path, "bytes-v1");
        Assert.Equal(expected.Length, s.Count);
        Assert.Equal(expected, ReadAll(s));
        for (long i = 0; i < s.Count; i += 101)
            Assert.Equal(expected[i], s[i]);
        Assert.Equal(expected[^1], s[s.Count - 1]);
        Assert.Equal(TokenCache.UInt16, meta.DType);
        Assert.Equal(meta, s.Meta);
        Assert.Equal(700, meta.DocumentCount);
        Assert.Equal(TokenCache.SourceHash(docs), meta.SourceHash);
        Assert.Equal(TokenCache.HeaderSize + 2 * expected.Length, new FileInfo(path).Length);
        Assert.Equal(meta, TokenCache.ReadMeta(path));
        Assert.Empty(Directory.GetFiles(tmp.File("sub"), "*.tmp"));
    }

    [Fact]
    public void LargeVocabulariesAreStoredAsInt32()
    {
        using var tmp = new TempFolder();
        static int[] Wide(string text) => Bytes(text).Select(b => 20_000 + 300 * b).ToArray();
        var docs = Docs(20);
        string path = tmp.File("wide.bin");
        var meta = TokenCache.Build(path, docs, Wide, 99_999, 100_000, "wide", null);
        Assert.Equal(TokenCache.Int32, meta.DType);
        using var s = TokenStream.Open(path, "wide");
        Assert.Equal(Expected(docs, Wide, 99_999), ReadAll(s));
        Assert.True(ReadAll(s).Max() > 65_535);
        Assert.Equal(TokenCache.HeaderSize + 4 * s.Count, new FileInfo(path).Length);
    }

    [Fact]
    public void ProgressRisesToOne()
    {
        using var tmp = new TempFolder();
        var reports = new List<double>();
        TokenCache.Build(tmp.File("p.bin"), Docs(600), Bytes, Eot, ByteVocab, "bytes-v1", new Collect(reports));
        Assert.True(reports.Count >= 3);
        Assert.Equal(reports.Order(), reports);
        Assert.Equal(1.0, reports[^1]);
    }

    [Fact]
    public void TruncatedCorruptAndForeignFilesAreRejected()
    {
        using var tmp = new TempFolder();
        string good = tmp.File("good.bin");
        TokenCache.Build(good, Docs(50), Bytes, Eot, ByteVocab, "bytes-v1", null);
        byte[] bytes = File.ReadAllBytes(good);
        string Variant(string name, Func<byte[], byte[]> change)
        {
            string path = tmp.File(name);
            File.WriteAllBytes(path, change((byte[])bytes.Clone()));
            return path;
        }
        string Reject(string path, string? fingerprint = "bytes-v1")
        {
            var e = Assert.Throws<UltraMemException>(() => TokenStream.Open(path, fingerprint));
            Assert.False(TokenCache.IsValid(path, fingerprint ?? "bytes-v1"));
            return e.Message;
        }

        Assert.True(TokenCache.IsValid(good, "bytes-v1"));
        Assert.Contains("truncated", Reject(Variant("short.bin", b => b[..^1])));
        Assert.Contains("truncated", Reject(Variant("stub.bin", b => b[..100])));
        Assert.Contains("corrupt", Reject(Variant("long.bin", b => [.. b, 0, 0])));
        Assert.Contains(
            "checksum",
            Reject(
                Variant(
                    "flip.bin",
                    b =>
                    {
                        b[TokenCache.HeaderSize + 17] ^= 1;
                        return b;
                    }
                )
            )
        );
        Assert.Contains(
            "not a token cache",
            Reject(
                Variant(
                    "magic.bin",
                    b =>
                    {
                        b[0] = (byte)'X';
                        return b;
                    }
                )
            )
        );
        Assert.Contains(
            "corrupt header",
            Reject(
                Variant(
                    "json.bin",
                    b =>
                    {
                        b[12] = (byte)'#';
                        return b;
                    }
                )
            )
        );
        string foreign = Reject(good, "bpe-8192-abc");
        Assert.Contains("'bytes-v1'", foreign);
        Assert.Contains("'bpe-8192-abc'", foreign);
        Assert.Contains("not found", Reject(tmp.File("absent.bin")));
        Assert.Contains("not a token cache", Reject(Variant("text.bin", _ => Encoding.UTF8.GetBytes(new string('x', 5000)))));

        using var anyTokenizer = TokenStream.Open(good, expectedFingerprint: null);
        Assert.Equal(bytes.Length - TokenCache.HeaderSize, anyTokenizer.Count * 2);
    }

    [Fact]
    public void AnInterruptedBuildLeavesThePreviousCacheIntact()
    {
        using var tmp = new TempFolder();
        string path = tmp.File("train.bin");
        TokenCache.Build(path, Docs(30), Bytes, Eot, ByteVocab, "bytes-v1", null);
        byte[] before = File.ReadAllBytes(path);

        var docs = Docs(600);
        var e = Assert.Throws<UltraMemException>(() =>
            TokenCache.Build(
                path,
                docs,
                text => text.StartsWith("Document 400:") ? throw new InvalidOperationException("encoder crashed") : Bytes(text),
                Eot,
                ByteVocab,
                "bytes-v2",
                null
            )
        );
        Assert.Contains("'d400'", e.Message);
        Assert.Contains("encoder crashed", e.Message);

        var bad = Assert.Throws<UltraMemException>(() => TokenCache.Build(path, docs, _ => [1, 300], Eot, ByteVocab, "bytes-v2", null));
        Assert.Contains("300", bad.Message);

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.True(TokenCache.IsValid(path, "bytes-v1"));
        Assert.Equal([path], Directory.GetFiles(tmp.Path));
    }

    [Fact]
    public void InvalidArgumentsAreRejected()
    {
        using var tmp = new TempFolder();
        string path = tmp.File("x.bin");
        Assert.Throws<UltraMemException>(() => TokenCache.Build(path, [], Bytes, Eot, ByteVocab, "f", null));
        Assert.Throws<ArgumentOutOfRangeException>(() => TokenCache.Build(path, Docs(2), Bytes, ByteVocab, ByteVocab, "f", null));
        Assert.Contains(
            "fingerprint",
            Assert
                .Throws<UltraMemException>(() => TokenCache.Build(path, Docs(2), Bytes, Eot, ByteVocab, new string('f', 5000), null))
                .Message
        );
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void ReadsAreBoundsCheckedAndDisposalIsFinal()
    {
        using var tmp = new TempFolder();
        string path = tmp.File("b.bin");
        TokenCache.Build(path, Docs(3), Bytes, Eot, ByteVocab, "bytes-v1", null);
        var s = TokenStream.Open(path, "bytes-v1");
        Assert.Throws<ArgumentOutOfRangeException>(() => s[s.Count]);
        Assert.Throws<ArgumentOutOfRangeException>(() => s[-1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => s.Read(s.Count - 2, new long[3]));
        s.Read(s.Count, Span<long>.Empty);
        s.Dispose();
        s.Dispose();
        Assert.Throws<ObjectDisposedException>(() => s[0]);
    }

    sealed class Collect(List<double> values) : IProgress<double>
    {
        public void Report(double value) => values.Add(value);
    }
}
