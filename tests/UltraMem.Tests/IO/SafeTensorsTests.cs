using System.Buffers.Binary;
using System.Text;
using TorchSharp;
using UltraMem.IO;
using static TorchSharp.torch;

namespace UltraMem.Tests.IO;

public class SafeTensorsTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    static readonly ScalarType[] AllDTypes =
    [
        ScalarType.Float64,
        ScalarType.Float32,
        ScalarType.Float16,
        ScalarType.BFloat16,
        ScalarType.Int64,
        ScalarType.Int32,
        ScalarType.Int16,
        ScalarType.Int8,
        ScalarType.Byte,
        ScalarType.Bool,
    ];

    /// <summary>A tensor filled with random bytes (0/1 for Bool), so floats include NaN/Inf patterns.</summary>
    static Tensor RandomTensor(ScalarType dtype, long[] shape, Random rng)
    {
        var t = torch.empty(shape, dtype: dtype);
        if (t.numel() == 0)
            return t;
        var bytes = t.bytes;
        rng.NextBytes(bytes);
        if (dtype == ScalarType.Bool)
            for (int i = 0; i < bytes.Length; i++)
                bytes[i] &= 1;
        return t;
    }

    static byte[] ContiguousBytes(Tensor t)
    {
        using var c = t.contiguous();
        return c.bytes.ToArray();
    }

    static void AssertBitwiseEqual(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(ContiguousBytes(expected), ContiguousBytes(actual));
    }

    static byte[] Le64(ulong v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        return b;
    }

    [Theory]
    [InlineData(SafeTensors.DefaultChunkBytes)]
    [InlineData(7L)] // tiny chunks: one to three elements per read/write, exercising chunk boundaries
    public void EveryDTypeRoundTripsBitwiseIncludingScalarsEmptyAndNonContiguous(long chunkBytes)
    {
        var rng = new Random(1234);
        var tensors = new Dictionary<string, Tensor>();
        var views = new List<Tensor>();
        foreach (var dt in AllDTypes)
        {
            string n = SafeTensors.DTypeName(dt);
            tensors[$"{n}.scalar"] = RandomTensor(dt, [], rng);
            tensors[$"{n}.empty"] = RandomTensor(dt, [0], rng);
            tensors[$"{n}.empty3d"] = RandomTensor(dt, [3, 0, 2], rng);
            tensors[$"{n}.dense"] = RandomTensor(dt, [2, 3, 5], rng);
            var baseT = RandomTensor(dt, [6, 7], rng);
            views.Add(baseT);
            tensors[$"{n}.transposed"] = baseT.t();
            tensors[$"{n}.strided"] = baseT.slice(1, 1, 7, 3);
            tensors[$"{n}.offset"] = baseT.narrow(0, 2, 3);
            tensors[$"{n}.expanded"] = baseT[1].unsqueeze(0).expand(4, 7);
        }
        Assert.False(tensors["F32.transposed"].is_contiguous());
        Assert.False(tensors["BF16.strided"].is_contiguous());
        Assert.False(tensors["BOOL.expanded"].is_contiguous());

        string path = _dir.File("all.safetensors");
        SafeTensors.Save(path, tensors, new Dictionary<string, string> { ["format"] = "pt" }, chunkBytes);
        using var loaded = SafeTensors.Load(path, null, chunkBytes);

        Assert.Equal(tensors.Count, loaded.Tensors.Count);
        foreach (var (name, t) in tensors)
        {
            var l = loaded.Tensors[name];
            Assert.True(l.is_contiguous());
            AssertBitwiseEqual(t, l);
        }
        Assert.Equal("pt", loaded.Metadata["format"]);
        foreach (var t in tensors.Values.Concat(views))
            t.Dispose();
    }

    [Fact]
    public void LargeTensorRoundTripsAcrossUnevenChunks()
    {
        using var t = torch.randn(100_003, dtype: ScalarType.Float32);
        string path = _dir.File("large.safetensors");
        SafeTensors.Save(path, [new("w", t)], null, chunkBytes: 4096 + 12);
        using var loaded = SafeTensors.Load(path, null, chunkBytes: 1000);
        AssertBitwiseEqual(t, loaded.Tensors["w"]);
        Assert.Equal(8 + 64 + 400_012, new FileInfo(path).Length); // the 64-byte JSON header needs no padding
    }

    [Fact]
    public void GoldenBytesOfOneF32Tensor()
    {
        string path = _dir.File("golden.safetensors");
        using var x = torch.tensor(new float[] { 1f, 2f });
        SafeTensors.Save(path, [new("x", x)]);

        const string json = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"; // 54 bytes
        byte[] expected =
        [
            56,
            0,
            0,
            0,
            0,
            0,
            0,
            0, // header length: 54 + 2 spaces of padding
            .. Encoding.ASCII.GetBytes(json),
            (byte)' ',
            (byte)' ',
            0x00,
            0x00,
            0x80,
            0x3F, // 1.0f little-endian
            0x00,
            0x00,
            0x00,
            0x40, // 2.0f
        ];
        Assert.Equal(expected, File.ReadAllBytes(path));
    }

    [Fact]
    public void GoldenBytesWithMetadataSortedNamesAndTwoDTypes()
    {
        string path = _dir.File("golden2.safetensors");
        using var b = torch.tensor(new sbyte[] { -1 });
        using var a = torch.tensor(new byte[] { 1, 2 });
        SafeTensors.Save(path, [new("b", b), new("a", a)], new Dictionary<string, string> { ["format"] = "pt" });

        const string json =
            "{\"__metadata__\":{\"format\":\"pt\"},"
            + "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
            + "\"b\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[2,3]}}"; // 136 bytes: already aligned
        byte[] expected = [136, 0, 0, 0, 0, 0, 0, 0, .. Encoding.ASCII.GetBytes(json), 1, 2, 0xFF];
        Assert.Equal(expected, File.ReadAllBytes(path));
    }

    [Fact]
    public void ReadsTheReferenceDocumentationExample()
    {
        // From the reference implementation's docs: unpadded 60-byte header, I32 [2, 2] of zeros.
        const string json = "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
        string path = _dir.File("ref.safetensors");
        File.WriteAllBytes(path, [.. Le64(60), .. Encoding.ASCII.GetBytes(json), .. new byte[16]]);
        using var f = SafeTensors.Load(path);
        var t = f.Tensors["test"];
        Assert.Equal(ScalarType.Int32, t.dtype);
        Assert.Equal(new long[] { 2, 2 }, t.shape);
        Assert.Equal(new int[4], t.data<int>().ToArray());
        Assert.Empty(f.Metadata);
    }

    [Fact]
    public void HeaderIsPaddedWithSpacesToEightBytesAndStartsWithBrace()
    {
        for (int len = 1; len <= 9; len++)
        {
            string path = _dir.File($"pad{len}.safetensors");
            using var t = torch.zeros(1, dtype: ScalarType.Int8);
            SafeTensors.Save(path, [new(new string('n', len), t)]);
            byte[] bytes = File.ReadAllBytes(path);
            long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            Assert.Equal(0, n % 8);
            Assert.Equal((byte)'{', bytes[8]);
            string header = Encoding.UTF8.GetString(bytes, 8, (int)n),
                json = header.TrimEnd(' ');
            Assert.EndsWith("}", json);
            Assert.InRange(header.Length - json.Length, 0, 7);
            Assert.Equal(8 + n + 1, bytes.Length);
        }
    }

    [Fact]
    public void NamesAreSortedByUtf8BytesAndStringsEscapedLikeTheReference()
    {
        string path = _dir.File("names.safetensors");
        using var t1 = torch.tensor(new byte[] { 1 });
        using var t2 = torch.tensor(new byte[] { 2 });
        using var t3 = torch.tensor(new byte[] { 3 });
        // UTF-16 order would put U+1F600 (surrogates D83D..) before U+FF5E; UTF-8 order (F0.. vs EF..) is the reverse.
        SafeTensors.Save(
            path,
            [new("\U0001F600", t1), new("\uFF5E", t2), new("q\"b\\\n\u0001/é", t3)],
            new Dictionary<string, string> { ["k\t"] = "v\r\b\f\u001f" }
        );
        byte[] bytes = File.ReadAllBytes(path);
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string header = Encoding.UTF8.GetString(bytes, 8, n).TrimEnd(' ');
        Assert.Equal(
            "{\"__metadata__\":{\"k\\t\":\"v\\r\\b\\f\\u001f\"},"
                + "\"q\\\"b\\\\\\n\\u0001/é\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                + "\"\uFF5E\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
                + "\"\U0001F600\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]}}",
            header
        );
        Assert.Equal(new byte[] { 3, 2, 1 }, bytes[^3..]);

        using var f = SafeTensors.Load(path);
        Assert.Equal(1, f.Tensors["\U0001F600"].item<byte>());
        Assert.Equal(3, f.Tensors["q\"b\\\n\u0001/é"].item<byte>());
        Assert.Equal("v\r\b\f\u001f", f.Metadata["k\t"]);
    }

    [Fact]
    public void EmptyFileWithNoTensorsRoundTrips()
    {
        string path = _dir.File("none.safetensors");
        SafeTensors.Save(path, []);
        Assert.Equal([8, 0, 0, 0, 0, 0, 0, 0, (byte)'{', (byte)'}', 32, 32, 32, 32, 32, 32], File.ReadAllBytes(path));
        using var f = SafeTensors.Load(path);
        Assert.Empty(f.Tensors);
        Assert.Empty(f.Metadata);
    }

    [Fact]
    public void ReadHeaderGivesNamesDTypesShapesAndOffsetsWithoutReadingData()
    {
        // Invalid BOOL data (byte 2) proves the header path does not touch the buffer; Load does.
        const string json =
            "{\"__metadata__\":{\"step\":\"7\"},\"flags\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[8,10]},"
            + "\"w\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}";
        string path = _dir.File("h.safetensors");
        File.WriteAllBytes(path, [.. Le64((ulong)json.Length), .. Encoding.ASCII.GetBytes(json), .. new byte[8], 1, 2]);

        var h = SafeTensors.ReadHeader(path);
        Assert.Equal(["w", "flags"], h.Tensors.Select(t => t.Name)); // file order
        Assert.Equal(ScalarType.BFloat16, h["w"].DType);
        Assert.Equal("BF16", h["w"].DTypeName);
        Assert.Equal([2L, 2L], h["w"].Shape);
        Assert.Equal(4, h["w"].ElementCount);
        Assert.Equal((8L, 10L, 2L), (h["flags"].Begin, h["flags"].End, h["flags"].ByteLength));
        Assert.Equal(8 + json.Length, h.DataStart);
        Assert.Equal(10, h.DataLength);
        Assert.Equal("7", h.Metadata["step"]);
        Assert.False(h.TryGetTensor("nope", out _));
        Assert.Contains("no tensor 'nope'", Assert.Throws<UltraMemException>(() => h["nope"]).Message);

        var ex = Assert.Throws<UltraMemException>(() => SafeTensors.Load(path));
        Assert.Contains("'flags'", ex.Message);
        Assert.Contains("BOOL", ex.Message);
    }

    [Fact]
    public void ExpectedCheckReportsMissingUnexpectedAndMismatchedInOneMessage()
    {
        string path = _dir.File("ckpt.safetensors");
        using var up = torch.zeros(4, 8);
        using var emb = torch.zeros(10, 4);
        using var extra = torch.zeros(1);
        SafeTensors.Save(path, [new("layers.3.mlp.up_proj.weight", up), new("embed.weight", emb), new("extra", extra)]);
        var expected = new Dictionary<string, (ScalarType, long[])>
        {
            ["layers.3.mlp.up_proj.weight"] = (ScalarType.Float32, [8, 8]),
            ["embed.weight"] = (ScalarType.BFloat16, [10, 4]),
            ["head.weight"] = (ScalarType.Float32, [10, 4]),
        };

        var header = SafeTensors.ReadHeader(path);
        Assert.Equal(
            [
                "missing 1 tensor: head.weight",
                "unexpected 1 tensor: extra",
                "embed.weight has dtype F32 expected BF16",
                "layers.3.mlp.up_proj.weight has shape [4, 8] expected [8, 8]",
            ],
            header.FindMismatches(expected)
        );

        var ex = Assert.Throws<UltraMemException>(() => SafeTensors.Load(path, expected));
        Assert.Equal(
            $"checkpoint '{path}' does not match config: missing 1 tensor: head.weight; unexpected 1 tensor: extra; "
                + "embed.weight has dtype F32 expected BF16; layers.3.mlp.up_proj.weight has shape [4, 8] expected [8, 8]",
            ex.Message
        );

        var exact = new Dictionary<string, (ScalarType, long[])>
        {
            ["layers.3.mlp.up_proj.weight"] = (ScalarType.Float32, [4, 8]),
            ["embed.weight"] = (ScalarType.Float32, [10, 4]),
            ["extra"] = (ScalarType.Float32, [1]),
        };
        Assert.Empty(header.FindMismatches(exact));
        using var f = SafeTensors.Load(path, exact);
        Assert.Equal(3, f.Tensors.Count);
    }

    [Fact]
    public void ExpectedCheckShortensLongNameLists()
    {
        string path = _dir.File("few.safetensors");
        SafeTensors.Save(path, []);
        var expected = Enumerable.Range(0, 25).ToDictionary(i => $"t{i:D2}", _ => (ScalarType.Float32, new long[] { 1 }));
        var problems = SafeTensors.ReadHeader(path).FindMismatches(expected);
        Assert.Equal("missing 25 tensors: t00, t01, t02, t03, t04, t05, t06, t07, t08, t09, ... (15 more)", Assert.Single(problems));
    }

    [Fact]
    public void SaveRejectsBadInputsAndWritesNothing()
    {
        string path = _dir.File("bad.safetensors");
        using var a = torch.zeros(2);
        using var c = torch.zeros(2, dtype: ScalarType.ComplexFloat32);
        var disposed = torch.zeros(2);
        disposed.Dispose();

        Assert.Contains(
            "duplicate tensor name 'a'",
            Assert.Throws<UltraMemException>(() => SafeTensors.Save(path, [new("a", a), new("a", a)])).Message
        );
        Assert.Contains("reserved", Assert.Throws<UltraMemException>(() => SafeTensors.Save(path, [new("__metadata__", a)])).Message);
        Assert.Contains("unsupported dtype", Assert.Throws<UltraMemException>(() => SafeTensors.Save(path, [new("c", c)])).Message);
        Assert.Contains("disposed", Assert.Throws<UltraMemException>(() => SafeTensors.Save(path, [new("d", disposed)])).Message);
        Assert.Contains("lone surrogate", Assert.Throws<UltraMemException>(() => SafeTensors.Save(path, [new("x\uD800", a)])).Message);
        Assert.Contains(
            "null",
            Assert
                .Throws<UltraMemException>(() => SafeTensors.Save(path, [new("a", a)], new Dictionary<string, string> { ["k"] = null! }))
                .Message
        );
        var ex = Assert.Throws<UltraMemException>(() => SafeTensors.Save(_dir.File("no/such/dir/x.safetensors"), [new("a", a)]));
        Assert.Contains("no/such/dir/x.safetensors", ex.Message);
        Assert.Empty(_dir.Entries());
    }

    [Fact]
    public void SaveOverwritesAtomicallyAndLeavesNoTempFile()
    {
        string path = _dir.File("m.safetensors");
        using var a = torch.ones(3);
        using var b = torch.full(5, 2.0, dtype: ScalarType.Float64);
        SafeTensors.Save(path, [new("a", a)]);
        SafeTensors.Save(path, [new("b", b)]);
        Assert.Equal(["m.safetensors"], _dir.Entries());
        using var f = SafeTensors.Load(path);
        Assert.Equal(["b"], f.Tensors.Keys);
        AssertBitwiseEqual(b, f.Tensors["b"]);
    }

    [Fact]
    public void SaveAcceptsTensorsThatRequireGradAndLeavesInputsUnchanged()
    {
        using var w = torch.randn(3, 4).requires_grad_(true);
        using var view = w.t();
        byte[] before = ContiguousBytes(w);
        string path = _dir.File("g.safetensors");
        SafeTensors.Save(path, [new("w", w), new("wt", view)]);
        Assert.Equal(before, ContiguousBytes(w));
        using var f = SafeTensors.Load(path);
        Assert.False(f.Tensors["w"].requires_grad);
        using var wd = w.detach();
        AssertBitwiseEqual(wd, f.Tensors["w"]);
        using var wt = wd.t();
        AssertBitwiseEqual(wt, f.Tensors["wt"]);
    }
}
