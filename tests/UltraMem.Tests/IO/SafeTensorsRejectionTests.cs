using System.Buffers.Binary;
using System.Text;
using UltraMem.IO;

namespace UltraMem.Tests.IO;

/// <summary>Hand-built malformed and hostile files: each must give an UltraMemException naming the file and the problem.</summary>
public class SafeTensorsRejectionTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    static byte[] Le64(ulong v)
    {
        var b = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        return b;
    }

    static byte[] File(byte[] header, byte[] data) => [.. Le64((ulong)header.Length), .. header, .. data];

    static byte[] File(string json, int dataBytes) => File(Encoding.UTF8.GetBytes(json), new byte[dataBytes]);

    static string F32(string name, string shape, string offsets) =>
        $"\"{name}\":{{\"dtype\":\"F32\",\"shape\":{shape},\"data_offsets\":{offsets}}}";

    /// <summary>Case name → (file bytes, fragment the message must contain).</summary>
    static readonly Dictionary<string, (byte[] Bytes, string Message)> Cases = new()
    {
        ["empty file"] = ([], "shorter than the 8-byte header length"),
        ["7-byte file"] = ([1, 0, 0, 0, 0, 0, 0], "shorter than the 8-byte header length"),
        ["header over 100 MB"] = ([.. Le64(100_000_001), .. "{}"u8], "exceeds the 100000000-byte limit"),
        ["header length u64 max"] = ([.. Le64(ulong.MaxValue), .. "{}"u8], "exceeds the 100000000-byte limit"),
        ["header longer than file"] = ([.. Le64(1000), .. "{}      "u8], "runs past the end"),
        ["zero-length header"] = (Le64(0), "does not start with '{'"),
        ["invalid UTF-8"] = (
            File([(byte)'{', (byte)'"', (byte)'a', 0xFF, (byte)'"', (byte)':', (byte)'{', (byte)'}', (byte)'}'], []),
            "not valid UTF-8"
        ),
        ["overlong UTF-8"] = (File([(byte)'{', (byte)'"', 0xC0, 0xAF, (byte)'"', (byte)':', (byte)'1', (byte)'}'], []), "not valid UTF-8"),
        ["BOM before header"] = (File([0xEF, 0xBB, 0xBF, .. "{}"u8], []), "does not start with '{'"),
        ["header is an array"] = (File("[1,2]", 0), "does not start with '{'"),
        ["truncated JSON"] = (File("{\"a\":", 0), "not valid JSON"),
        ["unquoted key"] = (File("{a:1}", 0), "not valid JSON"),
        ["JSON comment"] = (File("{/*x*/}", 0), "not valid JSON"),
        ["trailing comma"] = (File("{\"__metadata__\":{\"a\":\"b\",}}", 0), "not valid JSON"),
        ["garbage after object"] = (File("{} x", 0), "not valid JSON"),
        ["second object"] = (File("{}{}", 0), "not valid JSON"),
        ["lone surrogate escape"] = (File("{" + F32("\\ud800", "[1]", "[0,4]") + "}", 4), "not valid JSON"),
        ["entry not an object"] = (File("{\"a\":[1]}", 0), "tensor 'a': entry is StartArray"),
        ["missing dtype"] = (File("{\"a\":{\"shape\":[],\"data_offsets\":[0,4]}}", 4), "tensor 'a': missing 'dtype'"),
        ["missing shape"] = (File("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "tensor 'a': missing 'shape'"),
        ["missing offsets"] = (File("{\"a\":{\"dtype\":\"F32\",\"shape\":[]}}", 4), "tensor 'a': missing 'data_offsets'"),
        ["unknown field"] = (File("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"x\":1}}", 4), "unknown field 'x'"),
        ["dtype not a string"] = (File("{\"a\":{\"dtype\":4,\"shape\":[],\"data_offsets\":[0,4]}}", 4), "dtype is Number"),
        ["unknown dtype"] = (File("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1), "unknown dtype 'F8_E4M3'"),
        ["lower-case dtype"] = (File("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "unknown dtype 'f32'"),
        ["negative shape"] = (File("{" + F32("a", "[-1]", "[0,4]") + "}", 4), "shape entries must be non-negative integers, found -1"),
        ["fractional shape"] = (File("{" + F32("a", "[1.5]", "[0,4]") + "}", 4), "found 1.5"),
        ["shape entry a string"] = (File("{" + F32("a", "[\"2\"]", "[0,8]") + "}", 8), "found 2"),
        ["shape not an array"] = (File("{" + F32("a", "2", "[0,8]") + "}", 8), "shape is Number, not an array"),
        ["shape beyond int64"] = (File("{" + F32("a", "[18446744073709551615]", "[0,4]") + "}", 4), "non-negative integers"),
        ["shape product overflows"] = (File("{" + F32("a", "[4611686018427387904,4]", "[0,4]") + "}", 4), "overflows"),
        ["byte size overflows"] = (File("{" + F32("a", "[4611686018427387904]", "[0,4]") + "}", 4), "overflows"),
        ["huge shape small file"] = (
            File("{" + F32("a", "[1000000000,1000]", "[0,4000000000000]") + "}", 4),
            "beyond the 4-byte data buffer"
        ),
        ["one offset"] = (File("{" + F32("a", "[1]", "[4]") + "}", 4), "two integers [begin, end], found 1"),
        ["three offsets"] = (File("{" + F32("a", "[1]", "[0,4,4]") + "}", 4), "two integers [begin, end], found 3"),
        ["offsets not numbers"] = (
            File("{" + F32("a", "[1]", "[\"0\",\"4\"]") + "}", 4),
            "data_offsets entries must be non-negative integers"
        ),
        ["negative offset"] = (File("{" + F32("a", "[1]", "[-4,0]") + "}", 4), "found -4"),
        ["begin after end"] = (File("{" + F32("a", "[0]", "[4,0]") + "}", 4), "begin > end"),
        ["end beyond buffer"] = (File("{" + F32("a", "[2]", "[0,8]") + "}", 4), "end 8 is beyond the 4-byte data buffer"),
        ["length mismatch"] = (File("{" + F32("a", "[3]", "[0,8]") + "}", 8), "span 8 bytes but F32 [3] needs 12"),
        ["overlap"] = (
            File("{" + F32("a", "[2]", "[0,8]") + "," + F32("b", "[2]", "[4,12]") + "}", 12),
            "tensor 'b' [4, 12] overlaps tensor 'a' [0, 8]"
        ),
        ["same range twice"] = (File("{" + F32("a", "[1]", "[0,4]") + "," + F32("b", "[1]", "[0,4]") + "}", 4), "overlaps"),
        ["empty tensor inside another"] = (
            File("{" + F32("a", "[2]", "[0,8]") + "," + F32("z", "[0]", "[4,4]") + "}", 8),
            "tensor 'z' [4, 4] overlaps"
        ),
        ["gap"] = (
            File("{" + F32("a", "[1]", "[0,4]") + "," + F32("b", "[1]", "[8,12]") + "}", 12),
            "gap of 4 bytes in the data buffer before tensor 'b'"
        ),
        ["gap at start"] = (File("{" + F32("a", "[1]", "[4,8]") + "}", 8), "gap of 4 bytes"),
        ["trailing bytes"] = (File("{" + F32("a", "[2]", "[0,8]") + "}", 12), "4 trailing bytes after the last tensor"),
        ["data but no tensors"] = (File("{}", 3), "3 trailing bytes"),
        ["duplicate tensor"] = (File("{" + F32("a", "[1]", "[0,4]") + "," + F32("a", "[1]", "[4,8]") + "}", 8), "duplicate key 'a'"),
        ["duplicate metadata section"] = (File("{\"__metadata__\":{},\"__metadata__\":{}}", 0), "duplicate key '__metadata__'"),
        ["duplicate metadata key"] = (File("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0), "duplicate metadata key 'k'"),
        ["duplicate field"] = (
            File("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4),
            "duplicate field 'dtype'"
        ),
        ["metadata value a number"] = (File("{\"__metadata__\":{\"step\":7}}", 0), "metadata value of 'step' is Number, not a string"),
        ["metadata value an object"] = (File("{\"__metadata__\":{\"cfg\":{\"a\":\"b\"}}}", 0), "metadata value of 'cfg' is StartObject"),
        ["metadata not an object"] = (File("{\"__metadata__\":[\"a\"]}", 0), "must be an object of strings"),
        ["BOOL byte not 0 or 1"] = (
            File("{\"f\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]}}"u8.ToArray(), [1, 0, 7]),
            "BOOL data holds a byte other than 0 or 1"
        ),
    };

    public static IEnumerable<object[]> CaseNames => Cases.Keys.Select(k => new object[] { k });

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MalformedFileIsRejectedWithAClearMessage(string name)
    {
        var (bytes, message) = Cases[name];
        string path = _dir.File("bad.safetensors");
        System.IO.File.WriteAllBytes(path, bytes);

        var ex = Assert.Throws<UltraMemException>(() =>
        {
            using var f = SafeTensors.Load(path);
        });
        Assert.Contains($"'{path}'", ex.Message);
        Assert.Contains(message, ex.Message);

        if (!name.StartsWith("BOOL", StringComparison.Ordinal)) // everything but data checks fails on the header alone
        {
            var hex = Assert.Throws<UltraMemException>(() => SafeTensors.ReadHeader(path));
            Assert.Equal(ex.Message, hex.Message);
        }
    }

    [Fact]
    public void MetadataNullIsAcceptedAsNoMetadataLikeTheReference()
    {
        string path = _dir.File("null.safetensors");
        System.IO.File.WriteAllBytes(path, File("{\"__metadata__\":null," + F32("a", "[1]", "[0,4]") + "}", 4));
        using var f = SafeTensors.Load(path);
        Assert.Empty(f.Metadata);
        Assert.Single(f.Tensors);
    }

    [Fact]
    public void MissingFileIsAnUltraMemExceptionNamingIt()
    {
        string path = _dir.File("absent.safetensors");
        Assert.Contains(path, Assert.Throws<UltraMemException>(() => SafeTensors.Load(path)).Message);
        Assert.Contains(path, Assert.Throws<UltraMemException>(() => SafeTensors.ReadHeader(path)).Message);
    }

    [Fact]
    public void EveryCaseIsWellFormedExceptForItsOneDefect()
    {
        // Sanity check of the builders: the same construction with valid values loads.
        string path = _dir.File("good.safetensors");
        System.IO.File.WriteAllBytes(
            path,
            File("{\"__metadata__\":{\"k\":\"v\"}," + F32("a", "[2]", "[0,8]") + "," + F32("b", "[1]", "[8,12]") + "}", 12)
        );
        using var f = SafeTensors.Load(path);
        Assert.Equal(2, f.Tensors.Count);
        Assert.Equal("v", f.Metadata["k"]);
    }
}
